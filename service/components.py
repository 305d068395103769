"""Build the inference components from settings. The only place settings meet the models layer."""

from __future__ import annotations

import os

from models.classifiers.zero_shot import ZeroShotClassifier, ZeroShotConfig
from models.codebook import Codebook
from models.embedders.cache import EmbeddingCache
from models.registry import build
from service.settings import Settings


def build_embedder(settings: Settings, *, use_cache: bool = True):  # type: ignore[no-untyped-def]
    """The configured embedder, with the persistent embedding cache unless use_cache is False."""
    # Weights are never fetched at run time: only local paths and the local HF cache are used.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cache = EmbeddingCache(settings.embedding_cache_path) if use_cache else None
    return build(
        "embedder",
        settings.embedder_backend,
        model=settings.embedder_model,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        threads=settings.threads,
        cache=cache,
    )


def build_classifier(settings: Settings, codebook: Codebook, embedder) -> ZeroShotClassifier:  # type: ignore[no-untyped-def]
    return ZeroShotClassifier(codebook, embedder, ZeroShotConfig(threshold=settings.threshold))


class Pipeline:
    """What the server loads once at start-up: the embedder, and zero-shot classifiers per codebook."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = build_embedder(settings)
        self._classifiers: dict[str, ZeroShotClassifier] = {}

    @property
    def model_id(self) -> str:
        return str(getattr(self.embedder, "fingerprint", self.embedder.model_id))

    def classifier(self, codebook: Codebook, threshold: float | None = None) -> ZeroShotClassifier:
        key = f"{codebook.fingerprint}:{threshold}"
        if key not in self._classifiers:
            config = ZeroShotConfig(threshold=self.settings.threshold if threshold is None else threshold)
            self._classifiers[key] = ZeroShotClassifier(codebook, self.embedder, config)
        return self._classifiers[key]
