"""FastAPI dependencies: the database session, the calling coder, the project they act on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.errors import NotReady
from service.jobs.runner import JobRunner
from service.pipeline import Pipeline
from service.projects.access import Caller, authenticate, member_project
from service.review.visibility import require_unblinded
from service.schemas.projects import MAX_ID as MAX_ID  # re-exported: routers bound their query ids with it
from service.settings import Settings
from service.storage.db import Database
from service.storage.tables import Project

bearer = HTTPBearer(auto_error=False, description="a coder's API token")


# Dependencies that do no I/O are `async def`: FastAPI runs a sync dependency on the thread pool,
# and each such hop costs a thread switch (and a turn at the GIL) on every request.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise NotReady("the model is still loading; try again in a moment (GET /ready says when)")
    return pipeline


class _NotStarted:
    """Stands in for the job runner while the model loads: queued jobs wait in the database and
    the runner picks them up when it starts."""

    def notify(self) -> None:
        pass


async def get_runner(request: Request) -> JobRunner | _NotStarted:
    return request.app.state.runner or _NotStarted()


def read_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.read() as session:
        yield session


async def token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str | None:
    return credentials.credentials if credentials else None


def current_coder(session: Annotated[Session, Depends(read_session)], tok: Annotated[str | None, Depends(token)]) -> Caller:
    return authenticate(session, tok)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[Session, Depends(read_session)]
CoderDep = Annotated[Caller, Depends(current_coder)]
TokenDep = Annotated[str | None, Depends(token)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
RunnerDep = Annotated[JobRunner | _NotStarted, Depends(get_runner)]
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="project id")]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]  # any other id in a path


def member(session: SessionDep, coder: CoderDep, project_id: ProjectId) -> Project:
    return member_project(session, coder, project_id)


def owner(session: SessionDep, coder: CoderDep, project_id: ProjectId) -> Project:
    return member_project(session, coder, project_id, owner=True)


def unblinded(project: Annotated[Project, Depends(member)], coder: CoderDep) -> Project:
    """The project, for reads that mix every coder's work: refused (403) to a coder of a blind project."""
    require_unblinded(project, coder, "views computed from every coder's codings")
    return project


MemberDep = Annotated[Project, Depends(member)]
OwnerDep = Annotated[Project, Depends(owner)]
UnblindedDep = Annotated[Project, Depends(unblinded)]
