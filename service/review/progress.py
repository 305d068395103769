"""What the review page shows besides the queue: a coder's progress, and a document's codings."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.codebooks.versions import current_ref
from service.projects.access import Caller
from service.projects.manage import list_coders
from service.review.ledger import current_spans
from service.storage.tables import Decision, Project, Suggestion


def progress(session: Session, *, project: Project, coder: Caller) -> dict[str, Any]:
    """The caller's review progress under the current codebook: suggestions decided and left,
    per code, and how often they agreed with the model (accepted what it suggested)."""
    book = current_ref(session, project)
    totals = dict(session.execute(select(Suggestion.code, func.count()).where(Suggestion.codebook_id == book.id).group_by(Suggestion.code)).all())
    rows = session.execute(
        select(Decision.id, Decision.suggestion_id, Decision.verdict, Decision.undoes_id, Suggestion.code, Suggestion.codebook_id)
        .outerjoin(Suggestion, Suggestion.id == Decision.suggestion_id)
        .where(Decision.coder_id == coder.id).order_by(Decision.id)
    ).all()
    answered: dict[int, int] = {}  # decision id -> the suggestion it answered
    last: dict[int, tuple[str, str]] = {}
    for did, sid, verdict, undoes, code, codebook_id in rows:  # the latest verdict per suggestion; an undo reopens it
        if verdict == "undo":
            target = answered.get(undoes or -1)
            if target is not None:
                last.pop(target, None)
        elif sid is not None:
            answered[did] = sid
            if codebook_id == book.id:
                last[sid] = (verdict, code)
    per_code: dict[str, Counter[str]] = defaultdict(Counter)
    for verdict, code in last.values():
        per_code[code][verdict] += 1
    codes = []
    for code in sorted(set(totals) | set(per_code)):
        decided = sum(per_code[code].values())
        codes.append({"code": code, "suggested": int(totals.get(code, 0)), "decided": decided, "remaining": max(0, int(totals.get(code, 0)) - decided),
                      "accepted": per_code[code]["accept"], "rejected": per_code[code]["reject"], "replaced": per_code[code]["replace"]})
    decided = len(last)
    accepted = sum(1 for v, _ in last.values() if v == "accept")
    return {
        "coder": coder.name, "codebook_version": book.version, "decided": decided, "remaining": max(0, sum(totals.values()) - decided),
        "agreement_with_model": round(accepted / decided, 4) if decided else None, "codes": codes,
    }


def document_codings(session: Session, *, project: Project, document_id: int, coder_ids: list[int] | None) -> list[dict[str, Any]]:
    """Every current coding in the document, as character spans with code and coder."""
    names = {c.id: c.name for c in list_coders(session, project)}
    out: list[dict[str, Any]] = []
    scope = set(coder_ids) if coder_ids is not None else None
    for (segment_id, coder_id, code), spans in current_spans(session, project, scope, document_id=document_id).items():
        for start, end, d in spans:
            out.append({"segment_id": segment_id, "start": start, "end": end, "code": code, "coder": names.get(coder_id), "decision_id": d.id,
                        "memo": d.memo})
    unique = {(r["start"], r["end"], r["code"], r["coder"]): r for r in sorted(out, key=lambda r: r["decision_id"])}
    return sorted(unique.values(), key=lambda r: (r["start"], r["end"], r["code"], r["coder"] or ""))
