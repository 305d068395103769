"""Callers and their tokens, and who may act on a project.

A token is shown once, when its coder is created; only its sha256 is stored. Tokens carry 256
bits of randomness, so a fast hash is the right one (a slow password hash protects guessable
secrets, and would cost every request milliseconds).

When the server has an admin token, only a caller presenting it may create a project (directly or
by importing one): `require_admin`, compared in constant time."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import Forbidden, NotFound, Unauthorized
from service.storage.tables import Coder, Project

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
    key = (str(session.get_bind().engine.url), digest)
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


class _InProject(Protocol):
    @property
    def project_id(self) -> int: ...


T = TypeVar("T", bound=_InProject)


def in_project(session: Session, table: type[T], project: Project, ident: int, what: str) -> T:
    """The row of `table` with this id, if it belongs to the project; else 404 naming `what`."""
    row = session.get(table, ident)
    if row is None or row.project_id != project.id:
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


def require_admin(admin_token: str | None, token: str | None) -> None:
    """Refuse (401) a caller without the server's admin token, when the server has one."""
    if admin_token and not secrets.compare_digest((token or "").encode(), admin_token.encode()):
        raise Unauthorized("creating a project needs the server's admin token as 'Authorization: Bearer <token>'")


def forget_callers() -> None:
    """Drop remembered token validations (after a change to a coder, in this process)."""
    _CALLERS.clear()
