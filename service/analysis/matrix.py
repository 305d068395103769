"""Matrix coding queries, code counts and co-occurrence over a project's current codings
(the fold of its ledger).

Invariants: a code counts its sub-codes; only the codings of the coders the caller may see count
(the `_for` functions apply the blind rule of service.review.visibility); nothing is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.analysis import (
    Unit,
    attribute_axis,
    code_axis,
    code_counts,
    cooccurrence,
    group_axis,
    matrix,
)
from service.analysis.attributes import READER_KEYS, segments_in_scope
from service.codebooks.versions import as_codebook, current_codebook
from service.errors import Invalid
from service.projects.access import Caller
from service.projects.manage import list_coders
from service.review.ledger import current_codings
from service.review.visibility import visible_coders
from service.storage.tables import DocumentRow, Project, SegmentRow, SpeakerAttributes


# -- units and queries -----------------------------------------------------------------------------
def units(session: Session, *, project: Project, coder_ids: list[int] | None = None) -> list[Unit]:
    """Every segment with a current coding, with its document's and speaker's attributes."""
    names = {c.id: c.name for c in list_coders(session, project)}
    state = current_codings(session, project=project, coder_ids=coder_ids)
    applied: dict[int, dict[str, set[str]]] = {}
    for (sid, coder), codes in state.items():
        for code, on in codes.items():
            if on:
                applied.setdefault(sid, {}).setdefault(code, set()).add(names.get(coder, str(coder)))
    speakers = {s.speaker: s.attributes for s in session.scalars(select(SpeakerAttributes).where(SpeakerAttributes.project_id == project.id))}
    ids = sorted(applied)
    out = []
    for lo in range(0, len(ids), 5000):
        q = (select(SegmentRow, DocumentRow.name, DocumentRow.attributes).join(DocumentRow, DocumentRow.id == SegmentRow.document_id)
             .where(SegmentRow.id.in_(ids[lo:lo + 5000])))
        for seg, doc, doc_attrs in session.execute(q):
            attrs = {f"document:{k}": v for k, v in (doc_attrs or {}).items() if not k.startswith("refi:") and k not in READER_KEYS}
            attrs.update({f"speaker:{k}": v for k, v in speakers.get(seg.speaker, {}).items()})
            by_code = applied[seg.id]
            out.append(Unit(seg.id, doc, seg.ordinal, seg.text, seg.speaker, frozenset(by_code),
                            {c: frozenset(w) for c, w in by_code.items()}, attrs))
    return sorted(out, key=lambda u: (u.document, u.ordinal))


def _codes(session: Session, project: Project, spec: Any) -> list[str]:
    book = as_codebook(current_codebook(session, project))
    if spec in (None, "top"):
        return [c.path for c in book if c.parent is None]
    if spec == "all":
        return list(book.codes)
    unknown = [c for c in spec if c not in book.codes]
    if unknown:
        raise Invalid(f"unknown code {unknown[0]!r}; known codes: {', '.join(book.codes)}")
    return list(spec)


def axis(session: Session, project: Project, us: list[Unit], spec: dict[str, Any]):
    """{"codes": "top" | "all" | [paths]}, {"groups": {name: [paths]}}, {"themes": "all" | [names]} or
    {"attribute": "speaker:sector", "values": [...]}."""
    if "codes" in spec:
        return code_axis(_codes(session, project, spec["codes"]))
    if "groups" in spec:
        groups = spec["groups"]
        if not isinstance(groups, dict) or not groups:
            raise Invalid('groups are {"name": [code paths], ...}')
        for codes in groups.values():
            _codes(session, project, list(codes))
        return group_axis({str(k): list(v) for k, v in groups.items()})
    if "themes" in spec:
        from service.analysis.themes import themes

        found = {t.name: t.codes for t in themes(session, project)}
        wanted = list(found) if spec["themes"] == "all" else list(spec["themes"])
        missing = [n for n in wanted if n not in found]
        if missing:
            raise Invalid(f"no theme named {missing[0]!r}; themes: {', '.join(found) or '(none yet)'}")
        return group_axis({n: found[n] for n in wanted})
    if "attribute" in spec:
        name = str(spec["attribute"])
        if not name.startswith(("document:", "speaker:")):
            raise Invalid(f"attribute {name!r}: say whose, as document:NAME or speaker:NAME")
        return attribute_axis(us, name, spec.get("values"))
    raise Invalid('an axis is {"codes": "top"|"all"|[codes]} or {"attribute": "speaker:NAME"}')


def matrix_query(session: Session, *, project: Project, rows: dict, cols: dict, measure: str = "segments",
                 coder_ids: list[int] | None = None, where: dict[str, Any] | None = None) -> dict[str, Any]:
    us = units(session, project=project, coder_ids=coder_ids)
    scope = segments_in_scope(session, project=project, where=where or {})
    if scope is not None:
        us = [u for u in us if u.segment_id in scope]
    return matrix(us, axis(session, project, us, rows), axis(session, project, us, cols), measure)  # type: ignore[arg-type]  # measure is a str here (request schema or CLI); matrix() types it as its Literal


def counts(session: Session, *, project: Project, coder_ids: list[int] | None = None, window: int = 0) -> dict[str, Any]:
    us = units(session, project=project, coder_ids=coder_ids)
    codes = _codes(session, project, "all")
    return {"codes": code_counts(us, codes), "cooccurrence": cooccurrence(us, codes, window)}


def matrix_for(session: Session, *, project: Project, coder: Caller, rows: dict[str, Any], cols: dict[str, Any], measure: str = "segments",
               where: dict[str, Any] | None = None) -> dict[str, Any]:
    """matrix_query over the codings `coder` may see: {"rows", "cols", "measure", "counts", "passages"}."""
    return matrix_query(session, project=project, rows=rows, cols=cols, measure=measure, coder_ids=visible_coders(session, project, coder), where=where)


def counts_for(session: Session, *, project: Project, coder: Caller, window: int = 0) -> dict[str, Any]:
    """counts over the codings `coder` may see: {"codes": [...], "cooccurrence": {...}}."""
    return counts(session, project=project, coder_ids=visible_coders(session, project, coder), window=window)
