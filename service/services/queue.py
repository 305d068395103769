"""The review queue: the next suggestions for one coder, most informative first.

Order: the suggestion's `priority` (its rank in the classifier's review order, recomputed by every
suggest and retrain job), then id. Suggestions the coder has already decided (for that segment and
code) drop out. Pages are keyset-paginated: the cursor is the (priority, id) of the last item, so
a page never repeats or skips an item because others were decided meanwhile.

In a blind project whose suggestions are hidden, a coder's queue is the segments they have not yet
coded, in document order, with no model output: independent double-coding.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from models.classifiers.review import nearest_accepted
from service.errors import Invalid
from service.services.ledger import touched_by
from service.services.projects import current_codebook
from service.storage.tables import Coder, Decision, Project, SegmentRow, Suggestion


@dataclass(frozen=True)
class QueueFilter:
    code: str | None = None  # this code and its sub-codes
    document_id: int | None = None
    min_score: float | None = None
    max_score: float | None = None


@dataclass
class QueueItem:
    segment: SegmentRow
    suggestion: Suggestion | None
    nearest: list[dict]


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != n:
            raise ValueError
        return values
    except ValueError:
        raise Invalid("cursor is not one this server gave out; start again without it") from None


def hides_suggestions(project: Project, coder: Coder) -> bool:
    return project.blind and project.hide_suggestions and coder.role != "owner"


def queue(
    session: Session, *, project: Project, coder: Coder, filters: QueueFilter, cursor: str | None, limit: int, evidence: bool = True
) -> tuple[list[QueueItem], str | None]:
    if hides_suggestions(project, coder):
        return _segments_to_code(session, project=project, coder=coder, filters=filters, cursor=cursor, limit=limit)
    book = current_codebook(session, project)
    q = (
        select(Suggestion, SegmentRow)
        .join(SegmentRow, SegmentRow.id == Suggestion.segment_id)
        .where(Suggestion.project_id == project.id, Suggestion.codebook_id == book.id)
        .where(~touched_by(coder.id, Suggestion.code, Suggestion.segment_id))
    )
    if filters.code:
        q = q.where(or_(Suggestion.code == filters.code, Suggestion.code.startswith(filters.code + "/")))
    if filters.document_id is not None:
        q = q.where(Suggestion.document_id == filters.document_id)
    if filters.min_score is not None:
        q = q.where(Suggestion.score >= filters.min_score)
    if filters.max_score is not None:
        q = q.where(Suggestion.score <= filters.max_score)
    if cursor:
        prio, last = decode_cursor(cursor, 2)
        q = q.where(tuple_(Suggestion.priority, Suggestion.id) > tuple_(prio, last))
    rows = session.execute(q.order_by(Suggestion.priority, Suggestion.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nearest = _nearest(session, project=project, coder=coder, pairs=[(s.segment_id, s.code) for s, _ in rows]) if evidence else {}
    items = [QueueItem(seg, s, nearest.get((s.segment_id, s.code), [])) for s, seg in rows]
    next_cursor = encode_cursor([rows[-1][0].priority, rows[-1][0].id]) if more and rows else None
    return items, next_cursor


def _segments_to_code(
    session: Session, *, project: Project, coder: Coder, filters: QueueFilter, cursor: str | None, limit: int
) -> tuple[list[QueueItem], str | None]:
    coded = select(Decision.id).where(Decision.coder_id == coder.id, Decision.segment_id == SegmentRow.id).exists()
    q = select(SegmentRow).where(SegmentRow.project_id == project.id, ~coded)
    if filters.document_id is not None:
        q = q.where(SegmentRow.document_id == filters.document_id)
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        q = q.where(SegmentRow.id > last)
    rows = list(session.scalars(q.order_by(SegmentRow.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [QueueItem(s, None, []) for s in rows], (encode_cursor([rows[-1].id]) if more and rows else None)


class VectorCache:
    """Segment vectors by (database, segment id), most recently used kept: a segment's vector is
    written once by a job and never changes under the server's model, so it is read from the
    database once. Bounded: `capacity` vectors (about 1.5 kB each for a 384-d model)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, ids: set[int]) -> dict[int, np.ndarray]:
        key = str(session.get_bind().url)
        out: dict[int, np.ndarray] = {}
        with self._lock:
            for i in ids:
                v = self._data.get((key, i))
                if v is not None:
                    self._data.move_to_end((key, i))
                    out[i] = v
        missing = [i for i in ids if i not in out]
        if missing:
            found = session.execute(select(SegmentRow.id, SegmentRow.vector).where(SegmentRow.id.in_(missing), SegmentRow.vector.is_not(None))).all()
            with self._lock:
                for i, blob in found:
                    out[i] = self._data[(key, i)] = np.frombuffer(blob, dtype=np.float32)
                while len(self._data) > self.capacity:
                    self._data.popitem(last=False)
        return out


VECTORS = VectorCache()


def _accepted(session: Session, *, project: Project, coder: Coder, codes: list[str], pool: int, per_code: int) -> dict[str, list[int]]:
    """{code: segments whose current coding applies it}, most recent first, from the latest `pool`
    entries touching the codes (by any coder, or by this coder alone in blind mode). Read from
    columns; only undo entries need their stored effects."""
    q = select(Decision.id, Decision.segment_id, Decision.coder_id, Decision.verdict, Decision.code, Decision.new_code).where(
        Decision.project_id == project.id, or_(Decision.code.in_(codes), Decision.new_code.in_(codes))
    )
    if project.blind and coder.role != "owner":
        q = q.where(Decision.coder_id == coder.id)
    rows = session.execute(q.order_by(Decision.id.desc()).limit(pool)).all()
    undo_ids = [r.id for r in rows if r.verdict == "undo"]
    undone = dict(session.execute(select(Decision.id, Decision.effects).where(Decision.id.in_(undo_ids))).all()) if undo_ids else {}
    seen: set[tuple[int, int, str]] = set()
    out: dict[str, dict[int, None]] = {c: {} for c in codes}  # insertion-ordered sets
    for rid, seg, who, verdict, code, new_code in rows:  # newest first: the first entry per (segment, coder, code) is current
        for c, applied in ((code, verdict in ("accept", "add")), (new_code, True)):
            if c is None or c not in out or (seg, who, c) in seen:
                continue
            seen.add((seg, who, c))
            if verdict == "undo":
                applied = bool(undone[rid].get(c, False))
            if applied and len(out[c]) < per_code:
                out[c][seg] = None
    return {c: list(segs) for c, segs in out.items()}


def _nearest(session: Session, *, project: Project, coder: Coder, pairs: list[tuple[int, str]], k: int = 3, pool: int = 5000, per_code: int = 500) -> dict:
    """Evidence: for each (segment, code), the k most similar segments already accepted for the code."""
    codes = sorted({c for _, c in pairs})
    if not codes:
        return {}
    accepted = _accepted(session, project=project, coder=coder, codes=codes, pool=pool, per_code=per_code)
    if not any(accepted.values()):
        return {}
    vectors = VECTORS.get(session, {s for s, _ in pairs} | {s for segs in accepted.values() for s in segs})
    out: dict[tuple[int, str], list[dict]] = {}
    hits_by_pair: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for code in codes:
        acc = [s for s in accepted[code] if s in vectors]
        queries = [s for s, c in pairs if c == code and s in vectors]
        if not acc or not queries:
            continue
        matrix = np.vstack([vectors[s] for s in queries + acc])
        found = nearest_accepted(matrix, range(len(queries), len(queries) + len(acc)), range(len(queries)), k=k + 1)
        ids = queries + acc
        for q, hits in zip(queries, found):
            hits_by_pair[(q, code)] = [(ids[r], sim) for r, sim in hits if ids[r] != q][:k]
    wanted = {s for hits in hits_by_pair.values() for s, _ in hits}
    texts = dict(session.execute(select(SegmentRow.id, SegmentRow.text).where(SegmentRow.id.in_(wanted))).all()) if wanted else {}
    for pair, hits in hits_by_pair.items():
        out[pair] = [{"segment_id": s, "text": texts.get(s, ""), "similarity": round(sim, 4)} for s, sim in hits]
    return out
