"""Projects and their coders: create a project with its owner, add, deactivate and re-token coders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.codebooks.versions import add_codebook_version
from service.errors import Conflict, Invalid
from service.projects.access import (
    ROLES,
    Caller,
    forget_callers,
    hash_token,
    in_project,
    new_token,
)
from service.storage.tables import Coder, Project


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
    codebook: dict | None = None,
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
