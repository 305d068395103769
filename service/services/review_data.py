"""What the ledger adds up to: agreement between coders (and the model), and exports.

Agreement reads decisions, never suggestions, unless the model is compared as a coder. A coder's
value for (segment, code) is their current coding of it when they have an entry touching that code,
and missing otherwise: in a review, a code nobody asked a coder about is not a "no". The model's
value is defined for every segment it scored: 1 when it suggested the code at or above the
project's threshold, else 0. Between coders, agreement rests on the segments two or more coders
decided; the model is compared with each coder on the segments that coder decided.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.codings import CodingTable, per_code
from service.services.ledger import current_codings, entries
from service.services.projects import Caller, as_codebook, current_codebook, list_coders
from service.storage.tables import (
    CodebookVersion,
    DocumentRow,
    Project,
    SegmentRow,
    SegmentVector,
    Suggestion,
)

MODEL = "model"
DEFAULT_METRICS = ("percent", "cohen", "krippendorff", "gwet")


def _as_dicts(result: dict) -> dict[str, dict[str, Any]]:
    return {code: {m: e.as_dict() for m, e in ests.items()} for code, ests in result.items()}


def agreement(session: Session, *, project: Project, metrics: tuple[str, ...] = DEFAULT_METRICS, n_boot: int = 500, seed: int = 0,
              segments: set[int] | None = None) -> dict[str, Any]:
    """Agreement per code and overall, between the human coders and between the model and each coder
    (on `segments` only, when given: attribute filters)."""
    coders = {c.id: c.name for c in list_coders(session, project)}
    state = current_codings(session, project=project)
    if segments is not None:
        state = {k: v for k, v in state.items() if k[0] in segments}
    book = current_codebook(session, project)
    codes = list(as_codebook(book).codes)
    codes += sorted({c for v in state.values() for c in v} - set(codes))
    units = sorted({seg for seg, _ in state})
    humans = sorted({coders[who] for _, who in state})
    names = humans + [MODEL]
    u_ix = {u: i for i, u in enumerate(units)}
    n_ix = {n: j for j, n in enumerate(names)}
    k_ix = {c: k for k, c in enumerate(codes)}
    presence = np.full((len(units), len(names), len(codes)), -1, dtype=np.int8)
    for (seg, who), coding in state.items():
        for code, applied in coding.items():
            presence[u_ix[seg], n_ix[coders[who]], k_ix[code]] = int(applied)
    if units:
        scored = set(session.scalars(select(SegmentVector.segment_id).where(SegmentVector.segment_id.in_(units))))
        for seg in scored:
            presence[u_ix[seg], n_ix[MODEL], :] = 0
        for seg, code in session.execute(
            select(Suggestion.segment_id, Suggestion.code).where(
                Suggestion.codebook_id == book.id, Suggestion.segment_id.in_(units), Suggestion.score >= project.threshold)
        ):
            if seg in scored and code in k_ix:
                presence[u_ix[seg], n_ix[MODEL], k_ix[code]] = 1
    coded = (presence >= 0).any(axis=2)  # (units, coders): the coder decided something on the unit

    def table_for(rows: np.ndarray) -> CodingTable:
        """The table on these units only. Between coders: units two or more coders decided (a unit
        one coder decided shows no agreement; left in, it would still enter Fleiss' and Gwet's
        chance terms, and cost bootstrap time). Model vs a coder: the units that coder decided."""
        return CodingTable([units[i] for i in rows], names, codes, presence[rows])

    humans_ix = [n_ix[h] for h in humans]
    shared = np.flatnonzero(coded[:, humans_ix].sum(axis=1) >= 2)
    between = _as_dicts(per_code(table_for(shared), metrics, coders=humans, n_boot=n_boot, seed=seed)) if len(humans) >= 2 else {}
    model = {}
    for h in humans:
        rows = np.flatnonzero(coded[:, n_ix[h]] & coded[:, n_ix[MODEL]])
        model[h] = _as_dicts(per_code(table_for(rows), metrics, coders=[MODEL, h], n_boot=n_boot, seed=seed))
    return {
        "units": len(units),
        "units_coded_by_two_or_more": int(len(shared)),
        "coders": humans,
        "codes": codes,
        "codebook_version": book.version,
        "metrics": list(metrics),
        "between_coders": between,
        "model_vs_coder": model,
        "notes": [
            "a coder's value for (segment, code) is missing unless they decided it; the model's is defined for every scored segment",
            "(mean over codes) averages the per-code values; (pooled) treats every (segment, code) decision as one unit",
        ],
    }


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


def visible_coders(session: Session, project: Project, coder: Caller) -> list[int] | None:
    """Blind mode: a coder sees only their own decisions; the owner (and everyone when not blind) sees all."""
    return [coder.id] if project.blind and coder.role != "owner" else None
