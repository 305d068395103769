"""Case attributes of documents and speakers, and the scope filters built on them
(document:NAME=VALUE, speaker:NAME=VALUE).

Invariants: attribute names hold no control character (service.schemas.text); setting attributes
merges (a null value removes one); a CSV import applies every row or none (one transaction,
refused whole with the lines at fault). Functions taking `db` own their transaction; those taking
`session` run in the caller's.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import Invalid, NotFound
from service.schemas.text import bad_character
from service.storage.db import Database
from service.storage.tables import DocumentRow, Project, SegmentRow, SpeakerAttributes

READER_KEYS = {"speakers"}  # document metadata the readers record (not case attributes)


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
    row: DocumentRow | SpeakerAttributes | None
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
    for name in values:
        bad = bad_character(name)
        if bad:
            raise Invalid(f"attribute name {name!r} contains the control character {bad}; names may not")
    merged = {**(row.attributes or {}), **values}
    row.attributes = {k: v for k, v in merged.items() if v is not None}
    session.flush()
    return row.attributes


def edit_attributes(db: Database, *, project: Project, scope: str, key: str | int, values: dict[str, Any]) -> dict[str, Any]:
    """set_attributes in its own transaction: the attributes after the change."""
    with db.write() as session:
        return set_attributes(session, project=project, scope=scope, key=key, values=values)


def import_csv(db: Database, *, project: Project, scope: str, data: bytes) -> dict[str, Any]:
    """import_attributes_csv in its own transaction: {"scope", "rows", "attributes"}; all rows or none."""
    with db.write() as session:
        return import_attributes_csv(session, project=project, scope=scope, data=data)


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
                           values={h: typed(v) for h, v in zip(header[1:], row[1:], strict=True) if v.strip()})
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


def scope_of(session: Session, *, project: Project, attribute: list[str] | None) -> frozenset[int] | None:
    """The segments a request's attribute filters (["speaker:sector=NHS", ...]) leave in scope; None: no filter."""
    return segments_in_scope(session, project=project, where=parse_filters(attribute)) if attribute else None
