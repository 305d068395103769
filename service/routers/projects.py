"""Projects, coders and codebooks. Routers translate; services decide."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Path, UploadFile, status

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
from service.errors import Invalid, Unauthorized
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
from service.codebooks import versions as books
from service.projects import access, manage
from service.storage.tables import Coder
from service.uploads import read_limited

router = APIRouter(tags=["projects"])


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectCreated)
def create_project(body: ProjectCreate, db: DbDep, settings: SettingsDep, tok: TokenDep) -> ProjectCreated:
    """Create a project with its owner; the owner's token is in the response (shown once).

    When the server has an admin token (LOUPE_ADMIN_TOKEN), send it as the bearer token."""
    if settings.admin_token and not secrets.compare_digest((tok or "").encode(), settings.admin_token.encode()):
        raise Unauthorized("creating a project needs the server's admin token as 'Authorization: Bearer <token>'")
    with db.write() as session:
        project, owner, secret = manage.create_project(
            session, name=body.name, owner_name=body.owner, description=body.description, blind=body.blind,
            hide_suggestions=body.hide_suggestions, queue_mode=body.queue_mode, retrain_every=body.retrain_every,
            threshold=body.threshold, codebook=body.codebook,
        )
        return ProjectCreated(project=ProjectRead.model_validate(project), owner=CoderCreated(**CoderRead.model_validate(owner).model_dump(), token=secret))


@router.get("/me", response_model=CoderRead)
def me(coder: CoderDep, session: SessionDep) -> Any:
    """The coder the token belongs to."""
    return session.get(Coder, coder.id)


@router.get("/projects/{project_id}", response_model=ProjectRead)
def read_project(project: MemberDep) -> Any:
    return project


@router.patch("/projects/{project_id}", response_model=ProjectRead)
def update_project(project: OwnerDep, body: ProjectUpdate, db: DbDep) -> Any:
    with db.write() as session:
        row = access.get_project(session, project.id)
        for k, v in body.model_dump(exclude_unset=True).items():
            if v is None:
                raise Invalid(f"{k} cannot be null")
            setattr(row, k, v)
        session.flush()
        return row


@router.get("/projects/{project_id}/coders", response_model=list[CoderRead])
def list_coders(project: MemberDep, session: SessionDep) -> Any:
    return manage.list_coders(session, project)


@router.post("/projects/{project_id}/coders", status_code=status.HTTP_201_CREATED, response_model=CoderCreated)
def add_coder(project: OwnerDep, body: CoderCreate, db: DbDep) -> CoderCreated:
    """Add a coder; their token is in the response (shown once)."""
    with db.write() as session:
        coder, secret = manage.add_coder(session, project=project, name=body.name, role=body.role)
        return CoderCreated(**CoderRead.model_validate(coder).model_dump(), token=secret)


@router.patch("/projects/{project_id}/coders/{coder_id}", response_model=CoderUpdated)
def update_coder(project: OwnerDep, coder: CoderDep, db: DbDep, coder_id: Id, body: CoderUpdate) -> CoderUpdated:
    """Deactivate or reactivate a coder, or issue them a new token. Takes effect at once in this
    server (other server processes trust a validated token for up to 10 s)."""
    with db.write() as session:
        row, secret = manage.update_coder(session, project=project, coder_id=coder_id, by=coder, active=body.active, rotate=body.new_token)
        return CoderUpdated(**CoderRead.model_validate(row).model_dump(), token=secret)


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
    return _new_version(project, coder, db, runner, body)


@router.post("/projects/{project_id}/codebook/file", response_model=CodebookRead, tags=["codebooks"])
async def import_codebook(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, settings: SettingsDep, file: UploadFile = File(description="a .yaml, .yml or .json codebook file")) -> Any:
    """Import a codebook file as a new version."""
    import yaml

    data = await read_limited(file, settings.max_upload_bytes)
    name = (file.filename or "").lower()
    try:
        text = data.decode("utf-8-sig")
        parsed = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise Invalid(f"{file.filename}: not a readable YAML/JSON codebook ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if not isinstance(parsed, dict):
        raise Invalid(f"{file.filename}: a codebook file holds a mapping with 'name' and 'codes'")
    return _new_version(project, coder, db, runner, parsed)


def _new_version(project, coder, db, runner, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Store the version; a new one queues a suggest job, so the queue fills under the new codebook."""
    from service.jobs.queue import enqueue

    with db.write() as session:
        before = books.current_codebook(session, project).id
        row = books.add_codebook_version(session, project=project, data=data, coder=coder)
        if row.id != before:
            enqueue(session, project=project, kind="suggest", coder=coder)
    runner.notify()
    return row

