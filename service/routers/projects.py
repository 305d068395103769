"""Projects, coders and codebooks. Routers translate; services decide."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Path, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from service.codebooks import files as codebook_files
from service.codebooks import versions as books
from service.deps import (
    MAX_ID,
    CoderDep,
    DbDep,
    Id,
    MemberDep,
    OwnerDep,
    RunnerDep,
    SessionDep,
    SettingsDep,
    TokenDep,
)
from service.projects import manage
from service.schemas.projects import (
    CodebookRead,
    CodebookSummary,
    CoderCreate,
    CoderCreated,
    CoderRead,
    CoderUpdate,
    CoderUpdated,
    ProjectCreate,
    ProjectCreated,
    ProjectRead,
    ProjectUpdate,
)
from service.uploads import read_limited

router = APIRouter(tags=["projects"])


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectCreated)
def create_project(body: ProjectCreate, db: DbDep, settings: SettingsDep, tok: TokenDep) -> ProjectCreated:
    """Create a project with its owner; the owner's token is in the response (shown once).

    When the server has an admin token (LOUPE_ADMIN_TOKEN), send it as the bearer token."""
    return manage.new_project(db, admin_token=settings.admin_token, token=tok, **body.model_dump())


@router.get("/me", response_model=CoderRead)
def me(coder: CoderDep, session: SessionDep) -> Any:
    """The coder the token belongs to."""
    return manage.me(session, coder)


@router.get("/projects/{project_id}", response_model=ProjectRead)
def read_project(project: MemberDep) -> Any:
    return project


@router.patch("/projects/{project_id}", response_model=ProjectRead)
def update_project(project: OwnerDep, body: ProjectUpdate, db: DbDep) -> Any:
    return manage.edit_project(db, project=project, changes=body.model_dump(exclude_unset=True))


@router.get("/projects/{project_id}/coders", response_model=list[CoderRead])
def list_coders(project: MemberDep, session: SessionDep) -> Any:
    return manage.list_coders(session, project)


@router.post("/projects/{project_id}/coders", status_code=status.HTTP_201_CREATED, response_model=CoderCreated)
def add_coder(project: OwnerDep, body: CoderCreate, db: DbDep) -> CoderCreated:
    """Add a coder; their token is in the response (shown once)."""
    return manage.new_coder(db, project=project, name=body.name, role=body.role)


@router.patch("/projects/{project_id}/coders/{coder_id}", response_model=CoderUpdated)
def update_coder(project: OwnerDep, coder: CoderDep, db: DbDep, coder_id: Id, body: CoderUpdate) -> CoderUpdated:
    """Deactivate or reactivate a coder, or issue them a new token. Takes effect at once in this
    server (other server processes trust a validated token for up to 10 s)."""
    return manage.edit_coder(db, project=project, coder_id=coder_id, by=coder, active=body.active, rotate=body.new_token)


@router.get("/projects/{project_id}/codebook", response_model=CodebookRead, tags=["codebooks"])
def read_codebook(project: MemberDep, session: SessionDep) -> Any:
    """The current (newest) codebook version."""
    return books.current_codebook(session, project)


@router.get("/projects/{project_id}/codebook/versions", response_model=list[CodebookSummary], tags=["codebooks"])
def codebook_versions(project: MemberDep, session: SessionDep) -> Any:
    return books.codebook_versions(session, project)


@router.get("/projects/{project_id}/codebook/versions/{version}", response_model=CodebookRead, tags=["codebooks"])
def codebook_version(project: MemberDep, session: SessionDep, version: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Any:
    return books.get_codebook_version(session, project, version)


@router.put("/projects/{project_id}/codebook", response_model=CodebookRead, tags=["codebooks"])
def replace_codebook(
    project: OwnerDep,
    coder: CoderDep,
    db: DbDep,
    runner: RunnerDep,
    body: Annotated[dict[str, Any], Body(examples=[{"name": "My codebook", "codes": [{"id": "trust", "name": "Trust", "definition": "Confidence in another party."}]}])],
) -> Any:
    """Store an edited codebook as a new version (the codebook file format as JSON) and queue a
    suggest job under it. Suggestions and decisions keep the version they were made under; an
    unchanged codebook makes no new version."""
    return books.new_version(db, runner, project=project, coder=coder, data=body)


@router.post("/projects/{project_id}/codebook/file", response_model=CodebookRead, tags=["codebooks"])
async def import_codebook(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, settings: SettingsDep,
                          file: Annotated[UploadFile, File(description="a .yaml, .yml or .json codebook file")]) -> Any:
    """Import a codebook file as a new version."""
    data = await read_limited(file, settings.max_upload_bytes)
    return await run_in_threadpool(codebook_files.import_file, db, runner, project=project, coder=coder, filename=file.filename, data=data,
                                  limits=settings.codebook_limits)
