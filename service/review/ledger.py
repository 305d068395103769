"""The decision ledger: append-only entries, and the current coding derived from them.

An entry is never updated or deleted. Its `effects` say what it did to its coder's coding of the
segment ({code: applied}); the current coding of (segment, code, coder) is the effect of the latest
entry that touched that code. Undo is an entry whose effects restore the states from before the
entry it undoes. A client may send a `client_key`: sending the same key again returns the entry
already stored instead of writing a second one, so a retry after a timeout or crash is safe.
Entries on a deleted document's segments stay, beside the document's `tombstone` entry
(service.documents.delete); the current codings and spans leave them out (`live`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from service.codebooks.versions import codebook_of, current_ref
from service.errors import Conflict, Invalid, NotFound, ServiceError
from service.projects.access import Caller, in_project
from service.storage.tables import Decision, DocumentRow, Job, Project, SegmentRow, Suggestion

Verdict = Literal["accept", "reject", "replace", "add", "undo"]


@dataclass(frozen=True)
class DecisionInput:
    verdict: Verdict
    segment_id: int | None = None
    code: str | None = None
    new_code: str | None = None
    suggestion_id: int | None = None
    undoes: int | None = None
    memo: str | None = None
    client_key: str | None = None
    start: int | None = None  # add: a selection [start, end) of the document's text
    end: int | None = None


def _state_before(session: Session, *, coder_id: int, segment_id: int, before_id: int | None, codes: Iterable[str]) -> dict[str, bool]:
    """Each code's applied state for (segment, coder) after the entries older than before_id."""
    q = select(Decision.effects).where(Decision.coder_id == coder_id, Decision.segment_id == segment_id)
    if before_id is not None:
        q = q.where(Decision.id < before_id)
    state = {c: False for c in codes}
    for effects in session.scalars(q.order_by(Decision.id)):
        for c, applied in effects.items():
            if c in state:
                state[c] = bool(applied)
    return state


def _same(existing: Decision, data: DecisionInput) -> bool:
    return existing.verdict == data.verdict and (data.segment_id in (None, existing.segment_id)) and (
        data.code in (None, existing.code)
    ) and existing.new_code == data.new_code and existing.undoes_id == data.undoes and (
        (data.start, data.end) in ((None, None), (existing.span_start, existing.span_end)))


def _selection(session: Session, *, data: DecisionInput, segment_id: int) -> tuple[int | None, int | None]:
    """The selection an `add` codes: (start, end) checked against the segment, or (None, None)."""
    if data.start is None and data.end is None:
        return None, None
    if data.verdict != "add":
        raise Invalid("start/end (a selection) go with verdict 'add' only")
    if data.start is None or data.end is None or data.start >= data.end:
        raise Invalid("a selection needs both start and end, with start < end")
    seg = session.execute(select(SegmentRow.start, SegmentRow.end, func.length(DocumentRow.text).label("length"))
                          .join(DocumentRow, DocumentRow.id == SegmentRow.document_id).where(SegmentRow.id == segment_id)).one()
    if data.end > seg.length:
        raise Invalid(f"the selection ends at {data.end}, past the document's end ({seg.length} characters)")
    if data.end <= seg.start or data.start >= seg.end:
        raise Invalid(f"the selection [{data.start}, {data.end}) does not overlap segment {segment_id} [{seg.start}, {seg.end})")
    return data.start, data.end


def record(session: Session, *, project: Project, coder: Caller, data: DecisionInput) -> tuple[Decision, bool]:
    """Append one entry to the ledger; returns (entry, created). created is False for a repeated client_key."""
    if data.client_key is not None:
        existing = session.scalar(select(Decision).where(Decision.coder_id == coder.id, Decision.client_key == data.client_key))
        if existing is not None:
            if not _same(existing, data):
                raise Conflict(f"client_key {data.client_key!r} was already used for decision {existing.id}, with other contents")
            return existing, False
    book_row = current_ref(session, project)
    codebook = codebook_of(session, book_row)
    suggestion = None
    segment_id, code = data.segment_id, data.code
    if data.suggestion_id is not None:
        suggestion = in_project(session, Suggestion, project, data.suggestion_id, "suggestion")
        if segment_id is not None and segment_id != suggestion.segment_id:
            raise Invalid(f"suggestion {suggestion.id} is for segment {suggestion.segment_id}, not segment {segment_id}")
        if code is not None and code != suggestion.code and data.verdict != "add":
            raise Invalid(f"suggestion {suggestion.id} is for code {suggestion.code!r}, not {code!r}")
        segment_id = suggestion.segment_id
        code = code or suggestion.code
    undone = None
    if data.verdict == "undo":
        if data.undoes is None:
            raise Invalid("an undo names the decision it undoes in 'undoes'")
        undone = session.get(Decision, data.undoes)
        if undone is None or undone.project_id != project.id or undone.coder_id != coder.id:
            raise NotFound("decision of this coder", data.undoes)
        segment_id, code = undone.segment_id, undone.code
    if segment_id is None:
        raise Invalid("say which segment: send segment_id or suggestion_id")
    if session.scalar(select(SegmentRow.project_id).where(SegmentRow.id == segment_id)) != project.id:
        raise NotFound("segment", segment_id)
    if code is None:
        raise Invalid("say which code: send code (or suggestion_id)")
    span_start, span_end = _selection(session, data=data, segment_id=segment_id)

    if data.verdict in ("accept", "reject"):
        effects = {code: data.verdict == "accept"}
    elif data.verdict == "add":
        effects = {code: True}
    elif data.verdict == "replace":
        if not data.new_code:
            raise Invalid("a replace names the code that applies instead in 'new_code'")
        if data.new_code == code:
            raise Invalid("new_code is the code being replaced")
        effects = {code: False, data.new_code: True}
    else:
        assert undone is not None
        effects = _state_before(session, coder_id=coder.id, segment_id=segment_id, before_id=undone.id, codes=undone.effects)
    for c, applied in effects.items():
        if applied and c not in codebook.codes:
            raise Invalid(f"unknown code {c!r} in codebook version {book_row.version}; known codes: {', '.join(codebook.codes)}")

    entry = Decision(
        project_id=project.id, segment_id=segment_id, coder_id=coder.id, verdict=data.verdict, code=code,
        new_code=data.new_code if data.verdict == "replace" else (undone.new_code if undone else None),
        effects=effects, codebook_id=book_row.id,
        suggestion_id=suggestion.id if suggestion else None,
        suggested_score=suggestion.score if suggestion else None, suggested_model=suggestion.model if suggestion else None,
        undoes_id=undone.id if undone else None, memo=data.memo, client_key=data.client_key,
        span_start=span_start, span_end=span_end,
    )
    session.add(entry)
    session.flush()
    return entry, True


@dataclass
class BulkResult:
    index: int
    status: int
    decision: Decision | None = None
    error: str | None = None
    detail: str | None = None


def record_many(session: Session, *, project: Project, coder: Caller, items: list[DecisionInput]) -> list[BulkResult]:
    """Each item in its own savepoint: a bad item reports its error, the others are stored."""
    out = []
    for i, data in enumerate(items):
        try:
            with session.begin_nested():
                entry, created = record(session, project=project, coder=coder, data=data)
            out.append(BulkResult(i, 201 if created else 200, entry))
        except ServiceError as exc:
            out.append(BulkResult(i, exc.status, error=exc.kind, detail=exc.detail))
    return out


def retrain_due(session: Session, project: Project) -> bool:
    """True when `retrain_every` decisions arrived since the last retrain job was queued."""
    if project.retrain_every <= 0:
        return False
    last = session.execute(
        select(Job.status, Job.params).where(Job.project_id == project.id, Job.kind == "retrain").order_by(Job.id.desc()).limit(1)
    ).first()
    if last is not None and last.status in ("queued", "running"):
        return False
    since = int(last.params.get("last_decision_id", 0)) if last is not None else 0
    n = session.scalar(select(func.count()).select_from(Decision).where(Decision.project_id == project.id, Decision.id > since))
    return int(n or 0) >= project.retrain_every


def on_live_segment():
    """SQL: the entry's segment still exists (its document was not deleted), and it is not a tombstone."""
    return and_(select(SegmentRow.id).where(SegmentRow.id == Decision.segment_id).exists(), Decision.verdict != "tombstone")


def entries(
    session: Session, *, project: Project, coder_ids: list[int] | None, segment_id: int | None = None, after: int = 0,
    limit: int | None = 100, live: bool = False,
) -> list[Decision]:
    """Ledger entries in id order; `live`: only those on segments that still exist (no tombstones)."""
    q = select(Decision).where(Decision.project_id == project.id, Decision.id > after)
    if live:
        q = q.where(on_live_segment())
    if coder_ids is not None:
        q = q.where(Decision.coder_id.in_(coder_ids))
    if segment_id is not None:
        q = q.where(Decision.segment_id == segment_id)
    q = q.order_by(Decision.id)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def get_entry(session: Session, *, project: Project, decision_id: int) -> Decision:
    return in_project(session, Decision, project, decision_id, "decision")


SpanKey = tuple[int, int, str]  # (segment, coder, code)


@dataclass
class Folded:
    """The ledger folded in id order, once, for both readings of it.

    states: {(segment, coder): {code: applied}} for every code an entry touched (either way);
    spans:  {(segment, coder, code): [(start, end, decision)]} for the codes applied now, each with
            the selections that applied it (None, None: the whole segment). A `remap` (a merged, split
            or moved code) carries the selections over to the new code.
    """

    states: dict[tuple[int, int], dict[str, bool]] = field(default_factory=dict)
    spans: dict[SpanKey, list[tuple[int | None, int | None, Decision]]] = field(default_factory=dict)


def fold(rows: Iterable[Decision]) -> Folded:
    """The one fold of the ledger: entries applied in id order (see Folded)."""
    out = Folded()
    spans: dict[SpanKey, list[tuple[int | None, int | None, Decision]]] = defaultdict(list)
    for d in sorted(rows, key=lambda r: r.id):
        if d.verdict == "tombstone":  # a deleted document: it codes nothing
            continue
        out.states.setdefault((d.segment_id, d.coder_id), {}).update({c: bool(v) for c, v in d.effects.items()})
        if d.verdict == "remap" and d.new_code:
            moved = spans.pop((d.segment_id, d.coder_id, d.code), [])
            target = spans[(d.segment_id, d.coder_id, d.new_code)]
            target.extend(m for m in moved if all((s, e) != m[:2] for s, e, _ in target))
            continue
        if d.verdict == "undo":  # the undone entry's selections go; a code still applied keeps the others
            for code, applied in d.effects.items():
                key = (d.segment_id, d.coder_id, code)
                kept = [m for m in spans.pop(key, []) if m[2].id != d.undoes_id]
                if applied:
                    spans[key] = kept or [(None, None, d)]
            continue
        for code, applied in d.effects.items():
            key = (d.segment_id, d.coder_id, code)
            if not applied:
                spans.pop(key, None)
                continue
            span = (d.span_start, d.span_end) if d.span_start is not None and code == (d.new_code or d.code) else (None, None)
            if all((s, e) != span for s, e, _ in spans[key]):
                spans[key].append((*span, d))
    out.spans = {k: v for k, v in spans.items() if v}
    return out


def current_codings(session: Session, *, project: Project, coder_ids: list[int] | None = None) -> dict[tuple[int, int], dict[str, bool]]:
    """The current coding of every (segment, coder) with at least one entry (codes decided either way)."""
    return fold(entries(session, project=project, coder_ids=coder_ids, limit=None, live=True)).states


def current_spans(session: Session, project: Project, coder_ids: set[int] | None = None,
                  document_id: int | None = None) -> dict[SpanKey, list[tuple[int, int, Decision]]]:
    """{(segment, coder, code): [(start, end, the decision that applied it)]} for the codes applied
    now (of some coders, or in one document, when asked), with whole-segment selections resolved to
    the segment's offsets."""
    q = select(Decision).where(Decision.project_id == project.id, on_live_segment())
    if coder_ids is not None:
        q = q.where(Decision.coder_id.in_(sorted(coder_ids)))
    if document_id is not None:
        q = q.where(Decision.segment_id.in_(select(SegmentRow.id).where(SegmentRow.document_id == document_id)))
    state = fold(session.scalars(q.order_by(Decision.id))).spans
    seg_span: dict[int, tuple[int, int]] = {}
    ids = sorted({k[0] for k in state})
    for lo in range(0, len(ids), 5000):  # bounded IN lists
        for sid, start, end in session.execute(select(SegmentRow.id, SegmentRow.start, SegmentRow.end).where(SegmentRow.id.in_(ids[lo:lo + 5000]))):
            seg_span[sid] = (start, end)
    return {k: [(s if s is not None else seg_span[k[0]][0], e if e is not None else seg_span[k[0]][1], d) for s, e, d in v] for k, v in state.items()}


def touched_by(coder_id: int, code_column, segment_column):
    """SQL: the coder has an entry for (segment, code) (as its code or its replacement)."""
    return (
        select(Decision.id)
        .where(Decision.coder_id == coder_id, Decision.segment_id == segment_column, or_(Decision.code == code_column, Decision.new_code == code_column))
        .exists()
    )
