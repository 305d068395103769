"""Build the inference components from settings. The only place settings meet the models layer."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from models.classifiers.zero_shot import ZeroShotClassifier, ZeroShotConfig
from models.codebook import Codebook
from models.embedders.cache import EmbeddingCache
from models.registry import build
from service.settings import Settings

if TYPE_CHECKING:
    from models.llm.base import ResponseCache


def build_embedder(settings: Settings, *, use_cache: bool = True):
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
        precision_memo=settings.precision_memo_path,
    )


def build_classifier(settings: Settings, codebook: Codebook, embedder) -> ZeroShotClassifier:
    return ZeroShotClassifier(codebook, embedder, ZeroShotConfig(threshold=settings.threshold))


def build_llm(settings: Settings):
    """The configured LLM backend, or None (LOUPE_LLM_BACKEND=none, the default)."""
    from models.llm.errors import LLMError

    kind = settings.llm_backend
    if kind == "none":
        return None
    if not settings.llm_model:
        raise LLMError(f"LOUPE_LLM_BACKEND={kind} needs LOUPE_LLM_MODEL (a local model folder, or the server's model name)")
    if kind == "openai":
        from models.llm.openai_http import OpenAICompatible

        if not settings.llm_base_url:
            raise LLMError("LOUPE_LLM_BACKEND=openai needs LOUPE_LLM_BASE_URL, e.g. http://127.0.0.1:8001/v1")
        return OpenAICompatible(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key, timeout=settings.llm_timeout,
                                concurrency=settings.llm_concurrency, json_mode=settings.llm_json_mode)
    from models.llm.local import CausalLM, NLIModel

    cls = CausalLM if kind == "transformers" else NLIModel
    return cls(settings.llm_model, device=settings.device, precision=settings.precision)


class Pipeline:
    """What the server loads once at start-up: the embedder, and zero-shot classifiers per codebook."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = build_embedder(settings)
        self._classifiers: dict[str, ZeroShotClassifier] = {}
        self._llm: object | None = None
        self._llm_cache: ResponseCache | None = None

    @property
    def llm(self):
        """The LLM backend (loaded on first use), or None when none is configured."""
        if self._llm is None and self.settings.llm_backend != "none":
            self._llm = build_llm(self.settings)
        return self._llm

    def llm_coder(self, codebook: Codebook):
        """An LLMCoder for the codebook, sharing one answer cache (LOUPE_CACHE_DIR/llm-answers.sqlite); None without an LLM."""
        from models.llm.base import ResponseCache
        from models.llm.coder import LLMCoder

        if self.llm is None:
            return None
        if self._llm_cache is None:
            self._llm_cache = ResponseCache(self.settings.llm_cache_path)
        return LLMCoder(self.llm, codebook, cache=self._llm_cache)

    @property
    def model_id(self) -> str:
        return str(getattr(self.embedder, "fingerprint", self.embedder.model_id))

    def classifier(self, codebook: Codebook, threshold: float | None = None) -> ZeroShotClassifier:
        key = f"{codebook.fingerprint}:{threshold}"
        if key not in self._classifiers:
            config = ZeroShotConfig(threshold=self.settings.threshold if threshold is None else threshold)
            self._classifiers[key] = ZeroShotClassifier(codebook, self.embedder, config)
        return self._classifiers[key]
