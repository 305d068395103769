"""A persistent embedding cache keyed by (model fingerprint, sha256 of the text).

Stored in a SQLite file (stdlib sqlite3, WAL). Each entry holds a float32 matrix (rows, dim):
row 0 is the text's vector, rows 1.. its sentence vectors, with the sentence spans they were
pooled from. A lookup whose spans differ from the stored ones is a miss.
The cache holds derived data only: deleting the file loses nothing but time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    key BLOB NOT NULL,
    dim INTEGER NOT NULL,
    spans TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID
"""


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:20]


class EmbeddingCache:
    """Thread-safe cache of embedding matrices. `path=":memory:"` keeps it in memory."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get_many(
        self, model: str, keys: Sequence[bytes], spans: Sequence[str]
    ) -> dict[int, np.ndarray]:
        """Returns {position: float32 (rows, dim)} for the keys found with matching spans."""
        found: dict[int, np.ndarray] = {}
        wanted: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            wanted.setdefault(k, []).append(i)
        unique = list(wanted)
        with self._lock:
            for lo in range(0, len(unique), 500):
                chunk = unique[lo:lo + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, dim, spans, data FROM vectors WHERE model = ? AND key IN ({marks})",
                    [model, *chunk],
                ).fetchall()
                for key, dim, stored_spans, data in rows:
                    matrix = np.frombuffer(data, dtype=np.float32).reshape(-1, dim)
                    for i in wanted[key]:
                        if spans[i] == stored_spans:
                            found[i] = matrix
        return found

    def put_many(self, model: str, items: Iterable[tuple[bytes, str, np.ndarray]]) -> None:
        """items: (key, spans, float32 (rows, dim))."""
        rows = [
            (model, k, int(m.shape[1]), s, np.ascontiguousarray(m, dtype=np.float32).tobytes())
            for k, s, m in items
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def spans_key(spans: Sequence[tuple[int, int]]) -> str:
    return json.dumps([list(s) for s in spans], separators=(",", ":"))
