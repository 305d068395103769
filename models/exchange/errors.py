"""Errors of the exchange formats."""

from __future__ import annotations

from models.base import LoupeError


class QdaError(LoupeError):
    """A REFI-QDA file cannot be used; the message says why (and where, for XML)."""


class ArchiveTooLarge(QdaError):
    """An archive inflates past its limits (in total, or one member); the message gives the sizes."""
