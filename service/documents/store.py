"""Documents into a project: an uploaded file (any format the core reads) or JSON text.

The text is stored exactly as read (Document.text), segmented with exact offsets; segments are
read-only afterwards. A file that cannot be used is refused whole, with the reason, and nothing
of it is stored: an upload is read and checked before its one write transaction begins.
Functions taking `db` own their transaction; those taking `session` run in the caller's.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from models.base import Document, Segment
from models.text.names import bad_character
from models.text.readers import (
    SUPPORTED_SUFFIXES,
    ReadError,
    UnsupportedFormat,
    columns_of,
    looks_like_transcript,
    read_path,
)
from models.text.segment import (
    SegmentationConfig,
    TokenCounter,
    Unit,
    approx_tokens,
    segment_document,
)
from service.errors import Conflict, Invalid, UnsupportedMedia
from service.projects.access import Caller, in_project
from service.schemas.projects import DocumentColumns, DocumentRead, DocumentText
from service.storage.db import Database
from service.storage.tables import DocumentRow, Project, SegmentRow

DEFAULT_SEGMENTATION = SegmentationConfig()


@dataclass(frozen=True)
class UploadOptions:
    text_column: str = "text"
    id_column: str | None = "id"
    speaker_column: str | None = None
    encoding: str | None = None
    segmentation: SegmentationConfig = SegmentationConfig()


def _safe_name(filename: str) -> str:
    name = PurePath(filename.replace("\\", "/")).name.strip()
    if not name or name in (".", ".."):
        raise Invalid("the uploaded file has no name; send it with a file name such as interview.txt")
    bad = bad_character(name)
    if bad:
        raise Invalid(f"the uploaded file's name {name!r} contains the control character {bad}; names may not")
    return name


def read_upload(filename: str, data: bytes, options: UploadOptions = UploadOptions()) -> list[Document]:
    """Documents in an uploaded file. Raises UnsupportedMedia (415) or Invalid (422) with the reason."""
    name = _safe_name(filename)
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedMedia(f"{name}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    with tempfile.TemporaryDirectory(prefix="loupe-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return read_path(path, doc_id=name, text_column=options.text_column, id_column=options.id_column,
                             speaker_column=options.speaker_column, encoding=options.encoding)
        except UnsupportedFormat as exc:
            raise UnsupportedMedia(f"{name}: {exc.reason}") from None
        except ReadError as exc:
            raise Invalid(f"{name}: {exc.reason}") from None


def upload_columns(filename: str, data: bytes, *, encoding: str | None = None) -> DocumentColumns:
    """The columns of an uploaded .csv/.jsonl file and its first rows, for choosing the text, id and
    speaker columns before uploading it; nothing is stored. 415 for other file types, 422 when unreadable."""
    name = _safe_name(filename)
    with tempfile.TemporaryDirectory(prefix="loupe-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            columns, sample = columns_of(path, encoding=encoding)
        except UnsupportedFormat as exc:
            raise UnsupportedMedia(f"{name}: {exc.reason}") from None
        except ReadError as exc:
            raise Invalid(f"{name}: {exc.reason}") from None
    return DocumentColumns(name=name, columns=columns, sample=sample, text_column=_guess(columns, sample, ("text", "response", "answer")),
                           id_column=_guess(columns, None, ("id", "responseid", "respondent", "row")),
                           speaker_column=_guess(columns, None, ("speaker", "participant", "respondent", "author", "name")))


def _guess(columns: list[str], sample: list[dict[str, str]] | None, names: tuple[str, ...]) -> str | None:
    """A column by a usual name; for the text column, else the one with the longest values."""
    for want in names:
        for c in columns:
            if c.strip().casefold() == want:
                return c
    if sample:
        return max(columns, key=lambda c: sum(len(r.get(c, "")) for r in sample))
    return None


def text_document(name: str, text: str) -> Document:
    if not text.strip():
        raise Invalid(f"{name}: the text is empty")
    return Document(name, text, name, "txt", looks_like_transcript(text))


SEGMENT_BATCH = 2000  # segment rows per INSERT


def _insert_segments(session: Session, *, project_id: int, document_id: int, segments: list[Segment]) -> None:
    """A document's segments as rows, in ordinal order. The first goes through the ORM, which numbers
    it above any retired id (service.storage.ids); the rest are plain INSERTs in batches, numbered
    after it by the database. A long document's rows as ORM objects were slow to flush (20 s for
    120k) and, all alive at once, made each full garbage collection hold the GIL, and every other
    request, for over a second."""

    def values(s: Segment) -> dict[str, Any]:
        return {"project_id": project_id, "document_id": document_id, "ordinal": s.ordinal, "start": s.start, "end": s.end,
                "text": s.text, "speaker": s.speaker, "sentences": [[p.start, p.end] for p in s.sentences], "role": s.role,
                "page": s.page, "start_s": s.start_s, "end_s": s.end_s}

    if not segments:
        return
    session.add(SegmentRow(**values(segments[0])))
    session.flush()
    for k in range(1, len(segments), SEGMENT_BATCH):
        session.execute(insert(SegmentRow), [values(s) for s in segments[k:k + SEGMENT_BATCH]])


def store_documents(
    session: Session,
    *,
    project: Project,
    documents: list[Document],
    coder: Caller,
    data: bytes,
    segmentation: SegmentationConfig = DEFAULT_SEGMENTATION,
    count_tokens: TokenCounter = approx_tokens,
) -> list[DocumentRow]:
    """Store the documents and their segments; refuses (409) a name the project already has."""
    names = [d.id for d in documents]
    clash = session.scalars(select(DocumentRow.name).where(DocumentRow.project_id == project.id, DocumentRow.name.in_(names))).first()
    if clash is not None or len(set(names)) != len(names):
        raise Conflict(f"project {project.id} already has a document named {clash or names[0]!r}; upload it under another name")
    digest = hashlib.sha256(data).hexdigest()
    rows = []
    for doc in documents:
        row = DocumentRow(
            project_id=project.id, name=doc.id, format=doc.format, text=doc.text, sha256=digest,
            is_transcript=doc.is_transcript, attributes=dict(doc.metadata), created_by=coder.id,
        )
        session.add(row)
        session.flush()
        segments = segment_document(doc, segmentation, count_tokens)
        _insert_segments(session, project_id=project.id, document_id=row.id, segments=segments)
        rows.append(row)
    session.flush()
    return rows


def get_document(session: Session, project: Project, document_id: int) -> DocumentRow:
    return in_project(session, DocumentRow, project, document_id, "document")


def list_documents(session: Session, project: Project, *, offset: int = 0, limit: int = 100) -> list[tuple[DocumentRow, int]]:
    """A page of the project's documents, each with its number of segments."""
    rows = list(session.scalars(select(DocumentRow).where(DocumentRow.project_id == project.id).order_by(DocumentRow.id).offset(offset).limit(limit)))
    counts = segment_counts(session, [d.id for d in rows])
    return [(d, counts.get(d.id, 0)) for d in rows]


def list_segments(session: Session, project: Project, *, document_id: int | None, after: int = 0, limit: int = 100) -> list[SegmentRow]:
    q = select(SegmentRow).where(SegmentRow.project_id == project.id, SegmentRow.id > after)
    if document_id is not None:
        get_document(session, project, document_id)
        q = q.where(SegmentRow.document_id == document_id)
    return list(session.scalars(q.order_by(SegmentRow.id).limit(limit)))


def get_segment(session: Session, project: Project, segment_id: int) -> SegmentRow:
    return in_project(session, SegmentRow, project, segment_id, "segment")


def segment_counts(session: Session, document_ids: list[int]) -> dict[int, int]:
    q = select(SegmentRow.document_id, func.count()).where(SegmentRow.document_id.in_(document_ids)).group_by(SegmentRow.document_id)
    return {int(d): int(n) for d, n in session.execute(q)}


def _read(row: DocumentRow, n: int) -> DocumentRead:
    return DocumentRead.model_validate(row).model_copy(update={"segments": n})


def _store(db: Database, *, project: Project, coder: Caller, documents: list[Document], data: bytes, unit: Unit,
           count_tokens: TokenCounter) -> list[DocumentRead]:
    with db.write() as session:
        rows = store_documents(session, project=project, documents=documents, coder=coder, data=data,
                               segmentation=SegmentationConfig(unit=unit), count_tokens=count_tokens)
        counts = segment_counts(session, [r.id for r in rows])
        return [_read(r, counts.get(r.id, 0)) for r in rows]


def upload_documents(db: Database, *, project: Project, coder: Caller, filename: str, data: bytes, unit: Unit = "auto",
                     options: UploadOptions = UploadOptions(), count_tokens: TokenCounter = approx_tokens) -> list[DocumentRead]:
    """An uploaded file's documents, read and checked, then stored and segmented in one transaction."""
    documents = read_upload(filename, data, options)
    return _store(db, project=project, coder=coder, documents=documents, data=data, unit=unit, count_tokens=count_tokens)


def add_text_document(db: Database, *, project: Project, coder: Caller, name: str, text: str, unit: Unit = "auto",
                      count_tokens: TokenCounter = approx_tokens) -> DocumentRead:
    """A document sent as text, stored and segmented in one transaction."""
    (row,) = _store(db, project=project, coder=coder, documents=[text_document(name, text)], data=text.encode(), unit=unit,
                    count_tokens=count_tokens)
    return row


def documents_page(session: Session, project: Project, *, offset: int = 0, limit: int = 100) -> list[DocumentRead]:
    return [_read(d, n) for d, n in list_documents(session, project, offset=offset, limit=limit)]


def document_text(session: Session, project: Project, document_id: int) -> DocumentText:
    """The document with its full text, exactly as stored, and its number of segments."""
    row = get_document(session, project, document_id)
    return DocumentText.model_validate(row).model_copy(update={"segments": segment_counts(session, [row.id]).get(row.id, 0)})
