"""Exports of what the ledger holds: every entry (the ledger), and the current codings.

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
from service.review.ledger import current_codings, entries
from service.review.visibility import visible_coders
from service.storage.tables import (
    CodebookVersion,
    DocumentRow,
    Project,
    SegmentRow,
)

DECISION_COLUMNS = ["id", "created_at", "coder", "verdict", "segment_id", "document", "code", "new_code", "effects",
                    "suggestion_id", "suggested_score", "suggested_model", "undoes", "memo", "client_key", "codebook_version"]


CODING_COLUMNS = ["segment_id", "document", "start", "end", "coder", "code", "text"]


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


def coding_records(session: Session, *, project: Project, coder_ids: list[int] | None) -> Iterator[dict[str, Any]]:
    """The current codings: one record per (segment, coder, code) that applies now."""
    coders = {c.id: c.name for c in list_coders(session, project)}
    state = current_codings(session, project=project, coder_ids=coder_ids)
    segs = {s.id: (s, name) for s, name in session.execute(
        select(SegmentRow, DocumentRow.name).join(DocumentRow).where(SegmentRow.id.in_([seg for seg, _ in state])))}
    for (seg, who), coding in sorted(state.items()):
        row, doc = segs[seg]
        for code in sorted(c for c, applied in coding.items() if applied):
            yield {"segment_id": seg, "document": doc, "start": row.start, "end": row.end, "coder": coders.get(who), "code": code, "text": row.text}


def render(records: Iterator[dict[str, Any]], fmt: str, columns: list[str]) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        writer.writerow({k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in r.items()})
    return buf.getvalue()


def export_for(session: Session, *, project: Project, coder: Caller, what: Literal["ledger", "codings"], fmt: str,
               attribute: list[str] | None = None) -> str:
    """The ledger (DECISION_COLUMNS) or the current codings (CODING_COLUMNS) that `coder` may see,
    rendered as csv or jsonl; `attribute` filters keep the segments that match."""
    read, columns = (ledger_records, DECISION_COLUMNS) if what == "ledger" else (coding_records, CODING_COLUMNS)
    records = read(session, project=project, coder_ids=visible_coders(session, project, coder))
    scope = scope_of(session, project=project, attribute=attribute)
    if scope is not None:
        records = (r for r in records if r["segment_id"] in scope)
    return render(records, fmt, columns)
