"""Projects, coders and their tokens, and versioned codebooks.

A token is shown once, when its coder is created; only its sha256 is stored. Tokens carry 256
bits of randomness, so a fast hash is the right one (a slow password hash protects guessable
secrets, and would cost every request milliseconds).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.codebook import Codebook, CodebookError, parse_codebook, seed_codebook
from service.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from service.storage.tables import CodebookVersion, Coder, Project

ROLES = ("owner", "coder")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "lp_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """The coder a token belongs to, as the request handlers need it (detached from any session)."""

    id: int
    project_id: int
    name: str
    role: str


_CALLERS: dict[tuple[str, str], tuple[float, Caller]] = {}
CALLER_TTL = 10.0  # seconds a validated token is trusted without asking the database again


def authenticate(session: Session, token: str | None) -> Caller:
    """The caller for a bearer token; 401 without a valid one. Validations are remembered for
    CALLER_TTL seconds (tokens are never reassigned; a deactivated coder is refused within that time)."""
    if not token:
        raise Unauthorized("send 'Authorization: Bearer <token>' (tokens are given when a coder is created)")
    digest = hash_token(token)
    key = (str(session.get_bind().url), digest)
    hit = _CALLERS.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CALLER_TTL:
        return hit[1]
    coder = session.execute(select(Coder.id, Coder.project_id, Coder.name, Coder.role, Coder.active).where(Coder.token_hash == digest)).first()
    if coder is None or not coder.active:
        raise Unauthorized("this token is not valid")
    caller = Caller(coder.id, coder.project_id, coder.name, coder.role)
    if len(_CALLERS) > 10_000:
        _CALLERS.clear()
    _CALLERS[key] = (now, caller)
    return caller


T = TypeVar("T")


def in_project(session: Session, table: type[T], project: Project, ident: int, what: str) -> T:
    """The row of `table` with this id, if it belongs to the project; else 404 naming `what`."""
    row = session.get(table, ident)
    if row is None or row.project_id != project.id:  # type: ignore[attr-defined]
        raise NotFound(what, ident)
    return row


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("project", project_id)
    return project


def member_project(session: Session, coder: Caller, project_id: int, *, owner: bool = False) -> Project:
    """The project, if `coder` belongs to it (and is its owner when `owner`); else 404/403."""
    project = get_project(session, project_id)
    if coder.project_id != project.id:
        raise Forbidden(f"coder {coder.name!r} is not a member of project {project_id}")
    if owner and coder.role != "owner":
        raise Forbidden(f"only the project's owner can do this; {coder.name!r} is a {coder.role}")
    return project


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


def forget_callers() -> None:
    """Drop remembered token validations (after a change to a coder, in this process)."""
    _CALLERS.clear()


def list_coders(session: Session, project: Project) -> list[Coder]:
    return list(session.scalars(select(Coder).where(Coder.project_id == project.id).order_by(Coder.id)))


def get_coder(session: Session, project: Project, coder_id: int) -> Coder:
    return in_project(session, Coder, project, coder_id, "coder")


@dataclass(frozen=True)
class CodebookRef:
    id: int
    version: int
    fingerprint: str


def current_ref(session: Session, project: Project) -> CodebookRef:
    """The current version's id, number and fingerprint (without reading its content)."""
    row = session.execute(
        select(CodebookVersion.id, CodebookVersion.version, CodebookVersion.fingerprint)
        .where(CodebookVersion.project_id == project.id).order_by(CodebookVersion.version.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound("codebook of project", project.id)
    return CodebookRef(*row)


def codebook_of(session: Session, ref: CodebookRef) -> Codebook:
    """The parsed codebook of a version; its content is read only the first time."""
    codebook = _PARSED.get(ref.fingerprint)
    if codebook is None:
        codebook = as_codebook(session.get(CodebookVersion, ref.id))
    return codebook


def current_codebook(session: Session, project: Project) -> CodebookVersion:
    """The current version's row, content included (current_ref when the content is not needed)."""
    return session.get(CodebookVersion, current_ref(session, project).id)


def codebook_versions(session: Session, project: Project) -> list[CodebookVersion]:
    return list(session.scalars(select(CodebookVersion).where(CodebookVersion.project_id == project.id).order_by(CodebookVersion.version)))


def get_codebook_version(session: Session, project: Project, version: int) -> CodebookVersion:
    row = session.scalar(select(CodebookVersion).where(CodebookVersion.project_id == project.id, CodebookVersion.version == version))
    if row is None:
        raise NotFound("codebook version", version)
    return row


def parse(data: dict | None) -> Codebook:
    """The Codebook for a stored or submitted document (None: the seed codebook). Raises Invalid."""
    if data is None:
        return seed_codebook()
    try:
        return parse_codebook(data, origin="the codebook")
    except CodebookError as exc:
        raise Invalid(str(exc)) from None


_PARSED: dict[str, Codebook] = {}  # by fingerprint: a stored version never changes


def as_codebook(row: CodebookVersion) -> Codebook:
    codebook = _PARSED.get(row.fingerprint)
    if codebook is None:
        codebook = _PARSED.setdefault(row.fingerprint, parse(row.content))
    return codebook


def add_codebook_version(session: Session, *, project: Project, data: dict | None, coder: Caller | None) -> CodebookVersion:
    """Store `data` as the project's next codebook version; an unchanged codebook makes no new version."""
    codebook = parse(data)
    try:
        current = current_ref(session, project)
    except NotFound:  # the project's first version
        current = None
    if current is not None and current.fingerprint == codebook.fingerprint:
        return session.get(CodebookVersion, current.id)
    row = CodebookVersion(
        project_id=project.id, version=(current.version if current else 0) + 1, name=codebook.name,
        content=codebook.source, fingerprint=codebook.fingerprint, created_by=coder.id if coder else None,
    )
    session.add(row)
    session.flush()
    return row
