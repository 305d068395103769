"""The second half of the analysis: memos, case attributes, matrix queries, code counts and
co-occurrence, over a project's current codings (the fold of its ledger)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from eval.analysis import Unit, attribute_axis, code_axis, code_counts, cooccurrence, group_axis, matrix
from service.errors import Invalid, NotFound
from service.services.ledger import current_codings
from service.services.projects import Caller, as_codebook, current_codebook, list_coders
from service.storage.tables import DocumentRow, Memo, Project, SegmentRow, SpeakerAttributes

TARGETS = ("project", "code", "document", "segment", "theme")
READER_KEYS = {"speakers"}  # document metadata the readers record (not case attributes)


# -- memos ---------------------------------------------------------------------------------------
def add_memo(session: Session, *, project: Project, coder: Caller, target_kind: str, target: str, text: str, replaces: int | None) -> Memo:
    if target_kind not in TARGETS:
        raise Invalid(f"target_kind must be one of {', '.join(TARGETS)}")
    if target_kind == "code" and target not in as_codebook(current_codebook(session, project)).codes:
        raise Invalid(f"unknown code {target!r} in the current codebook")
    if target_kind in ("document", "segment"):
        table = DocumentRow if target_kind == "document" else SegmentRow
        row = session.get(table, int(target)) if target.isdigit() else None
        if row is None or row.project_id != project.id:
            raise NotFound(target_kind, target)
    if replaces is not None:
        old = session.get(Memo, replaces)
        if old is None or old.project_id != project.id or (old.target_kind, old.target) != (target_kind, target):
            raise Invalid(f"memo {replaces} is not an entry of this {target_kind}'s memo")
    memo = Memo(project_id=project.id, target_kind=target_kind, target=target if target_kind != "project" else "", text=text,
                coder_id=coder.id, replaces_id=replaces)
    session.add(memo)
    session.flush()
    return memo


def memos(session: Session, *, project: Project, target_kind: str | None = None, target: str | None = None) -> list[Memo]:
    q = select(Memo).where(Memo.project_id == project.id)
    if target_kind:
        q = q.where(Memo.target_kind == target_kind)
    if target is not None:
        q = q.where(Memo.target == target)
    return list(session.scalars(q.order_by(Memo.id)))


# -- attributes ----------------------------------------------------------------------------------
def typed(value: str) -> Any:
    """A CSV cell as the type it reads as: integer, number, true/false, or text."""
    v = value.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def set_attributes(session: Session, *, project: Project, scope: str, key: str | int, values: dict[str, Any]) -> dict[str, Any]:
    """Merge `values` into a document's (by id, or by name for a str key) or a speaker's attributes; None removes one."""
    if scope == "document":
        if isinstance(key, int):
            row = session.get(DocumentRow, key)
            row = row if row is not None and row.project_id == project.id else None
        else:
            row = session.scalar(select(DocumentRow).where(DocumentRow.project_id == project.id, DocumentRow.name == key))
        if row is None:
            raise NotFound("document", key)
    elif scope == "speaker":
        row = session.scalar(select(SpeakerAttributes).where(SpeakerAttributes.project_id == project.id, SpeakerAttributes.speaker == str(key)))
        if row is None:
            row = SpeakerAttributes(project_id=project.id, speaker=str(key), attributes={})
            session.add(row)
    else:
        raise Invalid("scope must be document or speaker")
    merged = {**(row.attributes or {}), **values}
    row.attributes = {k: v for k, v in merged.items() if v is not None}
    session.flush()
    return row.attributes


def import_attributes_csv(session: Session, *, project: Project, scope: str, data: bytes) -> dict[str, Any]:
    """A CSV whose first column names documents (or speakers) and whose other columns are attributes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the attributes file is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise Invalid("the attributes CSV needs a header row and at least two columns: the document (or speaker) and one attribute")
    header = [h.strip() for h in rows[0]]
    problems, done = [], 0
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {n}: {len(row)} cells, the header has {len(header)}")
            continue
        try:
            set_attributes(session, project=project, scope=scope, key=row[0].strip(),
                           values={h: typed(v) for h, v in zip(header[1:], row[1:]) if v.strip()})
            done += 1
        except NotFound:
            problems.append(f"line {n}: no {scope} named {row[0].strip()!r}")
    if problems:
        raise Invalid("the attributes CSV was not applied (nothing changed): " + "; ".join(problems[:10]))
    return {"scope": scope, "rows": done, "attributes": header[1:]}


def parse_filters(items: list[str] | None) -> dict[str, Any]:
    """["speaker:sector=NHS", "document:site=North"] -> {"speaker:sector": "NHS", ...} (values typed)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith(("document:", "speaker:")):
            raise Invalid(f"attribute filter {item!r}: write document:NAME=VALUE or speaker:NAME=VALUE")
        out[key] = typed(value)
    return out


def segments_in_scope(session: Session, *, project: Project, where: dict[str, Any]) -> frozenset[int] | None:
    """The segments whose document and speaker attributes match every filter (None: no filter)."""
    if not where:
        return None
    docs = [(d.id, d.attributes or {}) for d in session.scalars(select(DocumentRow).where(DocumentRow.project_id == project.id))]
    speakers = {s.speaker: s.attributes for s in session.scalars(select(SpeakerAttributes).where(SpeakerAttributes.project_id == project.id))}
    doc_ok = {i for i, attrs in docs if all(attrs.get(k.split(":", 1)[1]) == v for k, v in where.items() if k.startswith("document:"))}
    who_ok = {name for name, attrs in speakers.items() if all(attrs.get(k.split(":", 1)[1]) == v for k, v in where.items() if k.startswith("speaker:"))}
    q = select(SegmentRow.id).where(SegmentRow.project_id == project.id, SegmentRow.document_id.in_(sorted(doc_ok)))
    if any(k.startswith("speaker:") for k in where):
        q = q.where(SegmentRow.speaker.in_(sorted(who_ok)))
    return frozenset(session.scalars(q))


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
            codes = applied[seg.id]
            out.append(Unit(seg.id, doc, seg.ordinal, seg.text, seg.speaker, frozenset(codes),
                            {c: frozenset(w) for c, w in codes.items()}, attrs))
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


def axis(session: Session, project: Project, us: list[Unit], spec: dict[str, Any]):  # type: ignore[no-untyped-def]
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
        from service.services.themes import themes

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


def matrix_query(session: Session, *, project: Project, rows: dict, cols: dict, measure: str = "segments",  # type: ignore[type-arg]
                 coder_ids: list[int] | None = None, where: dict[str, Any] | None = None) -> dict[str, Any]:
    us = units(session, project=project, coder_ids=coder_ids)
    scope = segments_in_scope(session, project=project, where=where or {})
    if scope is not None:
        us = [u for u in us if u.segment_id in scope]
    return matrix(us, axis(session, project, us, rows), axis(session, project, us, cols), measure)  # type: ignore[arg-type]


def counts(session: Session, *, project: Project, coder_ids: list[int] | None = None, window: int = 0) -> dict[str, Any]:
    us = units(session, project=project, coder_ids=coder_ids)
    codes = _codes(session, project, "all")
    return {"codes": code_counts(us, codes), "cooccurrence": cooccurrence(us, codes, window)}
