"""Exports of what the ledger holds: every entry (the ledger), and the current codings, as CSV,
JSONL or Parquet.

The codings export is the decision matrix agreement reads: one record per decided (segment, coder,
code), `value` 1 when the code applies now and 0 when the coder decided it does not (a rejection,
or a replaced or undone code); a code a coder never decided on a segment has no record (missing,
not "no"). `loupe agree` reads it with no column options (unit, coder, code, value; start/end and
document for span agreement) and gives what `GET /agreement` gives. An applied code has one record
per selection (start, end: offsets in the document; the whole segment's when no narrower selection
was made).

Invariants: an export holds only the coders the caller may see (blind projects: their own), and,
with attribute filters, only the segments that match; nothing is written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.attributes import scope_of
from service.projects.access import Caller
from service.projects.manage import list_coders
from service.review.ledger import current_codings, current_spans, entries
from service.review.visibility import visible_coders
from service.storage.tables import (
    CodebookVersion,
    DocumentRow,
    Project,
    SegmentRow,
)

DECISION_COLUMNS = ["id", "created_at", "coder", "verdict", "segment_id", "document", "code", "new_code", "effects",
                    "suggestion_id", "suggested_score", "suggested_model", "undoes", "memo", "client_key", "codebook_version"]


CODING_COLUMNS = ["unit", "coder", "code", "value", "document", "segment_id", "start", "end", "text"]


def ledger_records(session: Session, *, project: Project, coder_ids: list[int] | None) -> Iterator[dict[str, Any]]:
    coders = {c.id: c.name for c in list_coders(session, project)}
    seg_doc = dict(session.execute(select(SegmentRow.id, DocumentRow.name).join(DocumentRow).where(SegmentRow.project_id == project.id)).all())
    versions = dict(session.execute(select(CodebookVersion.id, CodebookVersion.version).where(CodebookVersion.project_id == project.id)).all())
    for d in entries(session, project=project, coder_ids=coder_ids, limit=None):
        yield {
            "id": d.id, "created_at": d.created_at.isoformat(), "coder": coders.get(d.coder_id), "verdict": d.verdict,
            "segment_id": d.segment_id, "document": seg_doc.get(d.segment_id), "code": d.code, "new_code": d.new_code,
            "effects": d.effects, "suggestion_id": d.suggestion_id, "suggested_score": d.suggested_score,
            "suggested_model": d.suggested_model, "undoes": d.undoes_id, "memo": d.memo, "client_key": d.client_key,
            "codebook_version": versions.get(d.codebook_id),
        }


def _segments(session: Session, ids: list[int]) -> dict[int, tuple[SegmentRow, str]]:
    out: dict[int, tuple[SegmentRow, str]] = {}
    for lo in range(0, len(ids), 5000):  # bounded IN lists
        for row, name in session.execute(select(SegmentRow, DocumentRow.name).join(DocumentRow).where(SegmentRow.id.in_(ids[lo:lo + 5000]))):
            out[row.id] = (row, name)
    return out


def coding_records(session: Session, *, project: Project, coder_ids: list[int] | None) -> Iterator[dict[str, Any]]:
    """The decision matrix (see the module docstring): every decided (segment, coder, code)."""
    coders = {c.id: c.name for c in list_coders(session, project)}
    state = current_codings(session, project=project, coder_ids=coder_ids)
    spans = current_spans(session, project, set(coder_ids) if coder_ids is not None else None)
    segs = _segments(session, sorted({seg for seg, _ in state}))
    for (seg, who), coding in sorted(state.items()):
        if seg not in segs:
            continue
        row, doc = segs[seg]
        for code in sorted(coding):
            base = {"unit": str(seg), "coder": coders.get(who), "code": code, "document": doc, "segment_id": seg, "text": row.text}
            if not coding[code]:
                yield {**base, "value": 0, "start": None, "end": None}
                continue
            for start, end in sorted({(s, e) for s, e, _ in spans.get((seg, who, code), [])}) or [(row.start, row.end)]:
                yield {**base, "value": 1, "start": start, "end": end}


def _plain(v: Any) -> Any:
    return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v


def render(records: Iterator[dict[str, Any]], fmt: str, columns: list[str]) -> str | bytes:
    """csv or jsonl text, or Parquet bytes (columns in order; dicts as JSON text)."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(records)
        table = pa.table({c: pa.array([_plain(r.get(c)) for r in rows]) for c in columns})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buf_s = io.StringIO()
    writer = csv.DictWriter(buf_s, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        writer.writerow({k: _plain(v) for k, v in r.items()})
    return buf_s.getvalue()


def export_for(session: Session, *, project: Project, coder: Caller, what: Literal["ledger", "codings"], fmt: str,
               attribute: list[str] | None = None) -> str | bytes:
    """The ledger (DECISION_COLUMNS) or the decided codings (CODING_COLUMNS) that `coder` may see,
    rendered as csv or jsonl (text) or parquet (bytes); `attribute` filters keep the segments that match."""
    read, columns = (ledger_records, DECISION_COLUMNS) if what == "ledger" else (coding_records, CODING_COLUMNS)
    records = read(session, project=project, coder_ids=visible_coders(session, project, coder))
    scope = scope_of(session, project=project, attribute=attribute)
    if scope is not None:
        records = (r for r in records if r["segment_id"] in scope)
    return render(records, fmt, columns)
