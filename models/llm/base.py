"""What every LLM backend offers, the provenance each output carries, and the request cache.

A backend can do some of three things:
- `score_choices(prompt, choices)`: the log-likelihood of each choice as the continuation of the
  prompt (so an answer is always one of the choices, with a probability);
- `generate(prompt, max_tokens)`: free text (rationales);
- `complete_json(prompt, schema)`: an object that validates against a JSON schema.

Identical requests (same backend, model, rendered prompt, choices and parameters) are answered
from a SQLite cache, so re-runs are reproducible and free; the provenance says when that happened.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Provenance:
    """Which model and prompt made an output: journals ask for it for AI-assisted coding."""

    backend: str
    model: str
    template: str  # name.vN
    template_sha256: str
    params: dict[str, Any] = field(default_factory=dict)
    at: str = ""  # ISO time the answer was made (for a cache hit: when it was first made)
    cached: bool = False
    request: str = ""  # sha256 of the request (the cache key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    name: str
    model_id: str

    def score_choices(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]: ...

    def generate(self, prompts: list[str], max_tokens: int) -> list[str]: ...

    def complete_json(self, prompts: list[str], schema: dict[str, Any]) -> list[dict[str, Any]]: ...


@runtime_checkable
class EntailmentBackend(Backend, Protocol):
    """A backend that also scores (premise, hypothesis) pairs: the one named "nli"."""

    def entailment(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """(len(pairs), 2): [logit of entailment, logit of contradiction] per pair."""
        ...


def request_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ResponseCache:
    """Answers by request key, in a SQLite file (":memory:" for none on disk). Thread-safe."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, at TEXT NOT NULL)")
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[Any, str] | None:
        with self._lock:
            row = self._db.execute("SELECT value, at FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0]), row[1]

    def put(self, key: str, value: Any) -> str:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?)", (key, json.dumps(value), at))
            self._db.commit()
        return at

    def close(self) -> None:
        self._db.close()
