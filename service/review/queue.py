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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from service.analysis.attributes import scope_of
from service.codebooks.versions import current_ref
from service.errors import Invalid
from service.projects.access import Caller
from service.review.evidence import nearest_accepted_for
from service.review.ledger import touched_by
from service.review.visibility import hides_suggestions
from service.schemas.projects import SegmentRead
from service.schemas.review import NearestRead, QueuePage, SuggestionRead
from service.schemas.review import QueueItem as QueueItemRead
from service.storage.tables import Decision, Project, SegmentRow, Suggestion


@dataclass(frozen=True)
class QueueFilter:
    code: str | None = None  # this code and its sub-codes
    document_id: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    segments: frozenset[int] | None = None  # only these segments (attribute filters)


@dataclass
class QueueItem:
    segment: SegmentRow
    suggestion: Suggestion | None
    nearest: list[dict[str, Any]]


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != n:
            raise ValueError
        return values
    except ValueError:
        raise Invalid("cursor is not one this server gave out; start again without it") from None


def queue(
    session: Session, *, project: Project, coder: Caller, filters: QueueFilter, cursor: str | None, limit: int, evidence: bool = True
) -> tuple[list[QueueItem], str | None]:
    if hides_suggestions(project, coder):
        return _segments_to_code(session, project=project, coder=coder, filters=filters, cursor=cursor, limit=limit)
    book = current_ref(session, project)
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
    if filters.segments is not None:
        q = q.where(Suggestion.segment_id.in_(sorted(filters.segments)))
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
    nearest = nearest_accepted_for(session, project=project, coder=coder, pairs=[(s.segment_id, s.code) for s, _ in rows]) if evidence else {}
    items = [QueueItem(seg, s, nearest.get((s.segment_id, s.code), [])) for s, seg in rows]
    next_cursor = encode_cursor([rows[-1][0].priority, rows[-1][0].id]) if more and rows else None
    return items, next_cursor


def _segments_to_code(
    session: Session, *, project: Project, coder: Caller, filters: QueueFilter, cursor: str | None, limit: int
) -> tuple[list[QueueItem], str | None]:
    coded = select(Decision.id).where(Decision.coder_id == coder.id, Decision.segment_id == SegmentRow.id).exists()
    q = select(SegmentRow).where(SegmentRow.project_id == project.id, SegmentRow.role == "data", ~coded)
    if filters.document_id is not None:
        q = q.where(SegmentRow.document_id == filters.document_id)
    if filters.segments is not None:
        q = q.where(SegmentRow.id.in_(sorted(filters.segments)))
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        q = q.where(SegmentRow.id > last)
    rows = list(session.scalars(q.order_by(SegmentRow.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [QueueItem(s, None, []) for s in rows], (encode_cursor([rows[-1].id]) if more and rows else None)


def queue_page(session: Session, *, project: Project, coder: Caller, code: str | None = None, document_id: int | None = None,
               min_score: float | None = None, max_score: float | None = None, attribute: list[str] | None = None,
               cursor: str | None = None, limit: int = 20, evidence: bool = True) -> QueuePage:
    """One page of the coder's queue as the API answers it. `code` takes its sub-codes too;
    `attribute` filters (document:NAME=VALUE, speaker:NAME=VALUE) keep the segments that match."""
    scope = scope_of(session, project=project, attribute=attribute)
    filters = QueueFilter(code=code, document_id=document_id, min_score=min_score, max_score=max_score, segments=scope)
    items, next_cursor = queue(session, project=project, coder=coder, cursor=cursor, limit=limit, evidence=evidence, filters=filters)
    return QueuePage(
        items=[
            QueueItemRead(
                segment=SegmentRead.model_validate(i.segment),
                suggestion=SuggestionRead.model_validate(i.suggestion) if i.suggestion else None,
                nearest_accepted=[NearestRead.model_validate(n) for n in i.nearest],
            )
            for i in items
        ],
        next_cursor=next_cursor,
    )
