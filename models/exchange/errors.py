"""Errors of the exchange formats."""

from __future__ import annotations

from models.base import LoupeError


class QdaError(LoupeError):
    """A REFI-QDA file cannot be used; the message says why (and where, for XML)."""
