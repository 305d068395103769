"""Documents (upload a file or send text, preview a table's columns, rename, delete) and their read-only segments."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from models.text.segment import Unit as SegmentUnit
from service.deps import (
    MAX_ID,
    CoderDep,
    DbDep,
    Id,
    MemberDep,
    OwnerDep,
    PipelineDep,
    SessionDep,
    SettingsDep,
)
from service.documents import delete as removal
from service.documents import store as svc
from service.schemas.projects import (
    DocumentColumns,
    DocumentDeleted,
    DocumentRead,
    DocumentRename,
    DocumentText,
    SegmentRead,
    TextDocumentCreate,
)
from service.uploads import read_limited

router = APIRouter(tags=["documents"])
Unit = Annotated[str, Form(pattern="^(auto|sentence|turn|paragraph|window)$", description="segmentation unit")]


@router.post("/projects/{project_id}/documents", status_code=status.HTTP_201_CREATED, response_model=list[DocumentRead])
async def upload(
    project: MemberDep,
    coder: CoderDep,
    db: DbDep,
    pipeline: PipelineDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="txt, md, docx, pdf, vtt, srt (one document) or csv, jsonl (one per row)")],
    unit: Unit = "auto",
    text_column: Annotated[str, Form(max_length=200, description="csv/jsonl: the column holding the text")] = "text",
    id_column: Annotated[str, Form(max_length=200, description="csv/jsonl: the column naming each row (else its row number)")] = "id",
    speaker_column: Annotated[str | None, Form(max_length=200, description="csv/jsonl: the column naming who wrote the row")] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="e.g. cp1252; default: UTF-8/UTF-16 detection")] = None,
) -> list[DocumentRead]:
    """Upload a file; it is read, stored unchanged, and segmented. Unusable files get 415/422 with the reason."""
    data = await read_limited(file, settings.max_upload_bytes)
    return await run_in_threadpool(  # reading and segmenting a large file must not hold up the event loop
        svc.upload_documents, db, project=project, coder=coder, filename=file.filename or "", data=data, unit=cast(SegmentUnit, unit),
        options=svc.UploadOptions(text_column=text_column, id_column=id_column or None, speaker_column=speaker_column or None,
                                  encoding=encoding or None),
        count_tokens=pipeline.embedder.count_tokens,
    )


@router.post("/projects/{project_id}/documents/columns", response_model=DocumentColumns)
async def columns(
    project: MemberDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="a .csv or .jsonl file")],
    encoding: Annotated[str | None, Form(max_length=40)] = None,
) -> DocumentColumns:
    """The columns of a .csv/.jsonl file and its first rows, with guesses for the text, id and speaker
    columns, to choose them before uploading; nothing is stored."""
    data = await read_limited(file, settings.max_upload_bytes)
    return await run_in_threadpool(svc.upload_columns, file.filename or "", data, encoding=encoding or None)


@router.patch("/projects/{project_id}/documents/{document_id}", response_model=DocumentRead)
def rename(project: MemberDep, db: DbDep, document_id: Id, body: DocumentRename) -> DocumentRead:
    """Rename a document (any member); 409 when the project has a document of that name."""
    return removal.rename_document(db, project=project, document_id=document_id, name=body.name)


@router.delete("/projects/{project_id}/documents/{document_id}", response_model=DocumentDeleted)
def delete(project: OwnerDep, coder: CoderDep, db: DbDep, document_id: Id) -> DocumentDeleted:
    """Delete a document (owner only): its segments and suggestions go; the ledger keeps every
    decision and gains a `tombstone` entry; codings, exports and agreement leave the document out."""
    return removal.delete_document(db, project=project, coder=coder, document_id=document_id)


@router.post("/projects/{project_id}/documents/text", status_code=status.HTTP_201_CREATED, response_model=DocumentRead)
def add_text(project: MemberDep, coder: CoderDep, db: DbDep, pipeline: PipelineDep, body: TextDocumentCreate) -> DocumentRead:
    """Add a document sent as JSON text."""
    return svc.add_text_document(db, project=project, coder=coder, name=body.name, text=body.text, unit=body.unit,
                                 count_tokens=pipeline.embedder.count_tokens)


@router.get("/projects/{project_id}/documents", response_model=list[DocumentRead])
def list_documents(
    project: MemberDep, session: SessionDep, offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DocumentRead]:
    return svc.documents_page(session, project, offset=offset, limit=limit)


@router.get("/projects/{project_id}/documents/{document_id}", response_model=DocumentText)
def read_document(project: MemberDep, session: SessionDep, document_id: Id) -> Any:
    """The document with its full text, exactly as stored."""
    return svc.document_text(session, project, document_id)


@router.get("/projects/{project_id}/segments", response_model=list[SegmentRead])
def list_segments(
    project: MemberDep,
    session: SessionDep,
    document_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="segments with a larger id (keyset pagination)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    return svc.list_segments(session, project, document_id=document_id, after=after, limit=limit)


@router.get("/projects/{project_id}/segments/{segment_id}", response_model=SegmentRead)
def read_segment(project: MemberDep, session: SessionDep, segment_id: Id) -> Any:
    return svc.get_segment(session, project, segment_id)
