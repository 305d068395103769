"""Errors of the LLM backends."""

from __future__ import annotations

from models.base import LoupeError


class LLMError(LoupeError):
    """An LLM backend cannot do what was asked (unreachable server, bad output, missing model)."""
