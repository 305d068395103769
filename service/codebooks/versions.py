"""Versioned codebooks: every change is a new version; a stored version never changes.

Suggestions and decisions keep the version they were made under; an unchanged codebook makes no
new version. A new version queues a suggest job under it (`new_version`, in the same transaction),
so the review queue fills under the new codebook; the job runner is woken after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.codebook import Codebook, CodebookError, check_names, parse_codebook, seed_codebook
from service.errors import Invalid, NotFound
from service.jobs.queue import Notifier, enqueue
from service.projects.access import Caller
from service.storage.db import Database
from service.storage.tables import CodebookVersion, Coder, Project


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
        codebook = as_codebook(session.get_one(CodebookVersion, ref.id))
    return codebook


def current_codebook(session: Session, project: Project) -> CodebookVersion:
    """The current version's row, content included (current_ref when the content is not needed)."""
    return session.get_one(CodebookVersion, current_ref(session, project).id)


def codebook_versions(session: Session, project: Project) -> list[CodebookVersion]:
    return list(session.scalars(select(CodebookVersion).where(CodebookVersion.project_id == project.id).order_by(CodebookVersion.version)))


def get_codebook_version(session: Session, project: Project, version: int) -> CodebookVersion:
    row = session.scalar(select(CodebookVersion).where(CodebookVersion.project_id == project.id, CodebookVersion.version == version))
    if row is None:
        raise NotFound("codebook version", version)
    return row


def parse(data: dict[str, Any] | None) -> Codebook:
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


def add_codebook_version(session: Session, *, project: Project, data: dict[str, Any] | None, coder: Caller | Coder | None) -> CodebookVersion:
    """Store `data` as the project's next codebook version; an unchanged codebook makes no new version.
    Names with control characters are refused (422) here, where every new version passes."""
    codebook = parse(data)
    try:
        check_names(codebook, origin="the codebook")
    except CodebookError as exc:
        raise Invalid(str(exc)) from None
    try:
        current = current_ref(session, project)
    except NotFound:  # the project's first version
        current = None
    if current is not None and current.fingerprint == codebook.fingerprint:
        return session.get_one(CodebookVersion, current.id)
    row = CodebookVersion(
        project_id=project.id, version=(current.version if current else 0) + 1, name=codebook.name,
        content=codebook.source, fingerprint=codebook.fingerprint, created_by=coder.id if coder else None,
    )
    session.add(row)
    session.flush()
    return row


def new_version(db: Database, runner: Notifier, *, project: Project, coder: Caller | None, data: dict[str, Any] | None) -> CodebookVersion:
    """Store `data` (the codebook file format) as the next version in one transaction; a new version
    queues a suggest job under it. Returns the current version (the old one when nothing changed)."""
    with db.write() as session:
        before = current_ref(session, project).id
        row = add_codebook_version(session, project=project, data=data, coder=coder)
        if row.id != before:
            enqueue(session, project=project, kind="suggest", coder=coder)
    runner.notify()
    return row
