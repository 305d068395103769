"""Backends are a Protocol plus a name: `build("embedder", "sentence-transformers", **params)`.

Entries are import paths, so nothing is imported until a backend is built.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from models.base import LoupeError

_BACKENDS: dict[str, dict[str, str]] = {
    "embedder": {"sentence-transformers": "models.embedders.sentence_transformers:SentenceTransformerEmbedder"},
    "classifier": {"zero-shot": "models.classifiers.zero_shot:ZeroShotClassifier"},
}


def register(kind: str, name: str, target: str) -> None:
    """Add a backend: target is "package.module:Class"."""
    _BACKENDS.setdefault(kind, {})[name] = target


def names(kind: str) -> list[str]:
    return sorted(_BACKENDS.get(kind, {}))


def build(kind: str, name: str, **params: Any) -> Any:
    try:
        target = _BACKENDS[kind][name]
    except KeyError:
        raise LoupeError(f"unknown {kind} backend {name!r}; available: {', '.join(names(kind)) or 'none'}") from None
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)(**params)
