"""Inductive discovery: clusters of segments, their descriptions, and candidate codes."""
