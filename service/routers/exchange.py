"""REFI-QDA exchange: import and export projects (.qdpx) and codebooks (.qdc)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from service.deps import (
    MAX_ID,
    CoderDep,
    DbDep,
    MemberDep,
    OwnerDep,
    PipelineDep,
    RunnerDep,
    SessionDep,
    SettingsDep,
    TokenDep,
)
from service.exchange import qdpx, transfer
from service.exchange.budget import ImportBudget
from service.schemas.exchange import CodebookImported, ProjectImported
from service.uploads import read_limited

router = APIRouter(tags=["exchange"])
QDPX = "application/vnd.refi-qda.qdpx+zip"
QDC = "application/xml"


@router.post("/projects/import", status_code=status.HTTP_201_CREATED, response_model=ProjectImported)
async def import_project(
    db: DbDep,
    settings: SettingsDep,
    pipeline: PipelineDep,
    tok: TokenDep,
    file: Annotated[UploadFile, File(description="a REFI-QDA project (.qdpx) exported by NVivo, ATLAS.ti, MAXQDA, QualCoder or Loupe")],
    owner: Annotated[str, Form(min_length=1, max_length=200, description="your coder name in the new project")] = "owner",
    name: Annotated[str | None, Form(max_length=200, description="project name (default: the file's)")] = None,
) -> ProjectImported:
    """Import a .qdpx project as a new Loupe project: sources become documents, users coders, the
    codebook version 1, and codings human decisions (their selections kept). A file that cannot be
    used is refused whole (422, with the element path) and nothing is stored. Tokens for the
    imported coders are in the response (shown once)."""
    data = await read_limited(file, settings.max_upload_bytes)
    return await run_in_threadpool(  # an import reads, checks and stores a whole archive: off the event loop
        transfer.import_project_file, db, admin_token=settings.admin_token, token=tok, filename=file.filename, data=data, owner=owner, name=name,
        schema_dir=settings.refi_schema_dir, count_tokens=pipeline.embedder.count_tokens,
        budget=ImportBudget(max_bytes=settings.import_max_bytes, seconds=settings.import_timeout_s),
    )


@router.get("/projects/{project_id}/export.qdpx", response_class=Response, responses={200: {"content": {QDPX: {}}}})
def export_project(project: MemberDep, coder: CoderDep, session: SessionDep, settings: SettingsDep) -> Response:
    """The project as a REFI-QDA .qdpx archive, validated against Project.xsd (blind projects: a
    coder's export holds only their own codings)."""
    data, report = transfer.export_project_for(session, project=project, coder=coder, schema_dir=settings.refi_schema_dir)
    return Response(data, media_type=QDPX, headers={
        "Content-Disposition": f'attachment; filename="project-{project.id}.qdpx"',
        "X-Loupe-Export": json.dumps({k: report[k] for k in ("sources", "codes", "codings", "notes")}),
        "X-Loupe-Validated": str(report["validation"]["validated"]).lower(),
    })


@router.get("/projects/{project_id}/codebook/export.qdc", response_class=Response, responses={200: {"content": {QDC: {}}}}, tags=["codebooks"])
def export_codebook(
    project: MemberDep, session: SessionDep, settings: SettingsDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID, description="codebook version (default: the current one)")] = None,
) -> Response:
    """A codebook version as a REFI-QDA .qdc file, validated against Codebook.xsd."""
    data, _ = qdpx.export_codebook(session, project=project, version=version, schema_dir=settings.refi_schema_dir)
    return Response(data, media_type=QDC, headers={"Content-Disposition": f'attachment; filename="project-{project.id}-codebook.qdc"'})


@router.post("/projects/{project_id}/codebook/qdc", response_model=CodebookImported, tags=["codebooks"])
async def import_codebook(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, settings: SettingsDep,
                          file: Annotated[UploadFile, File(description="a REFI-QDA codebook (.qdc)")]) -> Any:
    """Import a .qdc codebook as the project's next version (nested codes, names, colours,
    descriptions; each code's GUID is kept for later exports), and queue a suggest job under it."""
    data = await read_limited(file, settings.max_upload_bytes)
    return await run_in_threadpool(transfer.import_codebook_file, db, runner, project=project, coder=coder, filename=file.filename, data=data,
                                   schema_dir=settings.refi_schema_dir)
