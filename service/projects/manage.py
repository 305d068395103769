"""Projects and their coders: create a project with its owner, add, deactivate and re-token coders.

Invariants: a project is created with its owner and codebook version 1 in one transaction; a
token is returned once, at creation or rotation, and only its hash is stored; an owner cannot
deactivate themselves. Functions taking `db` own their transaction (the use-cases behind the
endpoints); those taking `session` run in the caller's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.codebooks.versions import add_codebook_version
from service.errors import Conflict, Invalid, NotFound
from service.projects.access import (
    ROLES,
    Caller,
    forget_callers,
    get_project,
    hash_token,
    in_project,
    new_token,
    require_admin,
)
from service.schemas.projects import (
    CoderCreated,
    CoderRead,
    CoderUpdated,
    ProjectCreated,
    ProjectRead,
)
from service.storage.db import Database
from service.storage.tables import Coder, Project

EDITABLE = ("name", "description", "blind", "hide_suggestions", "queue_mode", "retrain_every", "threshold")


def create_project(
    session: Session,
    *,
    name: str,
    owner_name: str,
    description: str = "",
    blind: bool = False,
    hide_suggestions: bool = False,
    queue_mode: str = "information",
    retrain_every: int = 50,
    threshold: float = 0.5,
    codebook: dict[str, Any] | None = None,
) -> tuple[Project, Coder, str]:
    """A new project with its owner (whose token is returned) and codebook version 1 (the seed by default)."""
    project = Project(
        name=name, description=description, blind=blind, hide_suggestions=hide_suggestions,
        queue_mode=queue_mode, retrain_every=retrain_every, threshold=threshold,
    )
    session.add(project)
    session.flush()
    owner, token = add_coder(session, project=project, name=owner_name, role="owner")
    add_codebook_version(session, project=project, data=codebook, coder=owner)
    return project, owner, token


def add_coder(session: Session, *, project: Project, name: str, role: str) -> tuple[Coder, str]:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(Coder.id).where(Coder.project_id == project.id, Coder.name == name)) is not None:
        raise Conflict(f"project {project.id} already has a coder named {name!r}")
    token = new_token()
    coder = Coder(project_id=project.id, name=name, role=role, token_hash=hash_token(token))
    session.add(coder)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"project {project.id} already has a coder named {name!r}") from None
    return coder, token


def update_coder(session: Session, *, project: Project, coder_id: int, by: Caller, active: bool | None, rotate: bool) -> tuple[Coder, str | None]:
    """Deactivate or reactivate a coder, or give them a new token (the old one stops working).
    Their decisions stay in the ledger either way. Returns (coder, the new token or None)."""
    coder = get_coder(session, project, coder_id)
    if coder.id == by.id and active is False:
        raise Invalid("an owner cannot deactivate themselves; make another owner first")
    if active is not None:
        coder.active = active
    token = new_token() if rotate else None
    if token:
        coder.token_hash = hash_token(token)
    session.flush()
    forget_callers()
    return coder, token


def list_coders(session: Session, project: Project) -> list[Coder]:
    return list(session.scalars(select(Coder).where(Coder.project_id == project.id).order_by(Coder.id)))


def get_coder(session: Session, project: Project, coder_id: int) -> Coder:
    return in_project(session, Coder, project, coder_id, "coder")


def me(session: Session, caller: Caller) -> Coder:
    """The stored coder behind a caller."""
    row = session.get(Coder, caller.id)
    if row is None:
        raise NotFound("coder", caller.id)
    return row


# -- the use-cases: each owns its transaction ------------------------------------------------------
def new_project(
    db: Database,
    *,
    admin_token: str | None,
    token: str | None,
    name: str,
    owner: str,
    description: str = "",
    blind: bool = False,
    hide_suggestions: bool = False,
    queue_mode: str = "information",
    retrain_every: int = 50,
    threshold: float = 0.5,
    codebook: dict[str, Any] | None = None,
) -> ProjectCreated:
    """A project with its owner, whose token is in the answer (shown once); needs the server's
    admin token (`token` is the caller's) when the server has one."""
    require_admin(admin_token, token)
    with db.write() as session:
        project, row, secret = create_project(
            session, name=name, owner_name=owner, description=description, blind=blind, hide_suggestions=hide_suggestions,
            queue_mode=queue_mode, retrain_every=retrain_every, threshold=threshold, codebook=codebook,
        )
        return ProjectCreated(project=ProjectRead.model_validate(project), owner=CoderCreated(**CoderRead.model_validate(row).model_dump(), token=secret))


def edit_project(db: Database, *, project: Project, changes: dict[str, Any]) -> Project:
    """Change a project's settings (EDITABLE); a null value is refused."""
    with db.write() as session:
        row = get_project(session, project.id)
        for k, v in changes.items():
            if k not in EDITABLE:
                raise Invalid(f"{k} is not a setting of a project; these are: {', '.join(EDITABLE)}")
            if v is None:
                raise Invalid(f"{k} cannot be null")
            setattr(row, k, v)
        session.flush()
        return row


def new_coder(db: Database, *, project: Project, name: str, role: str) -> CoderCreated:
    """Add a coder; their token is in the answer (shown once)."""
    with db.write() as session:
        coder, secret = add_coder(session, project=project, name=name, role=role)
        return CoderCreated(**CoderRead.model_validate(coder).model_dump(), token=secret)


def edit_coder(db: Database, *, project: Project, coder_id: int, by: Caller, active: bool | None, rotate: bool) -> CoderUpdated:
    """Deactivate or reactivate a coder, or issue a new token (in the answer, shown once)."""
    with db.write() as session:
        row, secret = update_coder(session, project=project, coder_id=coder_id, by=by, active=active, rotate=rotate)
        return CoderUpdated(**CoderRead.model_validate(row).model_dump(), token=secret)
