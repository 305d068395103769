"""Evidence shown with a suggestion: the segments most similar to it that are already accepted for
its code. Both inputs are kept in memory and brought up to date incrementally, so a queue page
costs a few small queries however long the ledger grows:

- `AcceptedIndex`: per project, who currently applies which code to which segment, folded from the
  ledger; each call reads only the entries newer than the last one it saw.
- `VectorCache`: segment vectors, read from the database once (a segment's vector is written once
  by a job and does not change under the server's model); bounded, least recently used dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.classifiers.review import most_similar
from service.projects.access import Caller
from service.review.visibility import blinded
from service.storage.tables import Decision, Project, SegmentRow, SegmentVector


class VectorCache:
    """Segment vectors by (database, segment id); at most `capacity` kept (about 1.5 kB each at 384-d)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, ids: set[int]) -> dict[int, np.ndarray]:
        key = str(session.get_bind().engine.url)
        out: dict[int, np.ndarray] = {}
        with self._lock:
            for i in ids:
                v = self._data.get((key, i))
                if v is not None:
                    self._data.move_to_end((key, i))
                    out[i] = v
        missing = [i for i in ids if i not in out]
        if missing:
            found = session.execute(select(SegmentVector.segment_id, SegmentVector.vector).where(SegmentVector.segment_id.in_(missing))).all()
            with self._lock:
                for i, blob in found:
                    out[i] = self._data[(key, i)] = np.frombuffer(blob, dtype=np.float32)
                while len(self._data) > self.capacity:
                    self._data.popitem(last=False)
        return out


class AcceptedIndex:
    """Which coders currently apply each code to each segment, for one project, kept up to date."""

    def __init__(self) -> None:
        self.last_id = 0
        self.state: dict[tuple[int, int, str], bool] = {}  # (segment, coder, code) -> applied
        self.by_code: dict[str, OrderedDict[int, set[int]]] = {}  # code -> segment -> coders applying; latest at the end
        self.version: dict[str, int] = {}  # code -> number of changes seen, for the matrices below
        self.matrices: dict[tuple[str, int | None], tuple[int, list[int], np.ndarray]] = {}
        self.lock = threading.Lock()

    def update(self, session: Session, project_id: int) -> None:
        with self.lock:
            rows = session.execute(
                select(Decision.id, Decision.segment_id, Decision.coder_id, Decision.effects)
                .where(Decision.project_id == project_id, Decision.id > self.last_id).order_by(Decision.id)
            ).all()
            for rid, seg, who, effects in rows:
                for code, applied in effects.items():
                    self.state[(seg, who, code)] = bool(applied)
                    self.version[code] = self.version.get(code, 0) + 1
                    segs = self.by_code.setdefault(code, OrderedDict())
                    coders = segs.get(seg, set())
                    if applied:
                        coders.add(who)
                        segs[seg] = coders
                        segs.move_to_end(seg)
                    elif seg in segs:
                        coders.discard(who)
                        if not coders:
                            del segs[seg]
                self.last_id = rid

    def accepted(self, code: str, *, coder_id: int | None, limit: int) -> list[int]:
        """Segments applying `code` (by `coder_id` alone when given), most recently accepted first."""
        with self.lock:
            segs = self.by_code.get(code, OrderedDict())
            out = []
            for seg in reversed(segs):
                if coder_id is None or coder_id in segs[seg]:
                    out.append(seg)
                    if len(out) >= limit:
                        break
            return out


VECTORS = VectorCache()
_INDEXES: dict[tuple[str, int], AcceptedIndex] = {}
_INDEXES_LOCK = threading.Lock()


def accepted_index(session: Session, project_id: int) -> AcceptedIndex:
    key = (str(session.get_bind().engine.url), project_id)
    with _INDEXES_LOCK:
        index = _INDEXES.setdefault(key, AcceptedIndex())
    index.update(session, project_id)
    return index


def accepted_matrix(session: Session, index: AcceptedIndex, code: str, *, coder_id: int | None, limit: int) -> tuple[list[int], np.ndarray]:
    """(segment ids, float32 (n, dim) vectors) of the segments accepted for `code`, rebuilt only
    when the code's accepted set changed since the last call."""
    key = (code, coder_id)
    version = index.version.get(code, 0)
    cached = index.matrices.get(key)
    if cached is not None and cached[0] == version:
        return cached[1], cached[2]
    segs = index.accepted(code, coder_id=coder_id, limit=limit)
    vectors = VECTORS.get(session, set(segs))
    ids = [s for s in segs if s in vectors]
    matrix = np.vstack([vectors[s] for s in ids]) if ids else np.zeros((0, 0), np.float32)
    index.matrices[key] = (version, ids, matrix)
    return ids, matrix


def nearest_accepted_for(
    session: Session, *, project: Project, coder: Caller, pairs: list[tuple[int, str]], k: int = 3, per_code: int = 2000
) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """For each (segment, code), the k most similar segments accepted for the code (by any coder;
    by the calling coder alone in a blind project), among the `per_code` most recently accepted."""
    if not pairs:
        return {}
    index = accepted_index(session, project.id)
    only = coder.id if blinded(project, coder) else None
    query_vectors = VECTORS.get(session, {s for s, _ in pairs})
    hits_by_pair: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for code in sorted({c for _, c in pairs}):
        ids, matrix = accepted_matrix(session, index, code, coder_id=only, limit=per_code)
        queries = [s for s, c in pairs if c == code and s in query_vectors]
        if not ids or not queries:
            continue
        found = most_similar(np.vstack([query_vectors[s] for s in queries]), matrix, k, query_ids=queries, candidate_ids=ids)
        hits_by_pair.update(((q, code), hits) for q, hits in zip(queries, found, strict=False))
    wanted = {s for hits in hits_by_pair.values() for s, _ in hits}
    texts = dict(session.execute(select(SegmentRow.id, SegmentRow.text).where(SegmentRow.id.in_(wanted))).all()) if wanted else {}
    # a hit whose segment is gone (its document was deleted) is left out
    return {pair: [{"segment_id": s, "text": texts[s], "similarity": round(sim, 4)} for s, sim in hits if s in texts]
            for pair, hits in hits_by_pair.items()}
