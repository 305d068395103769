"""REFI-QDA exchange as the endpoints do it: the checks on the upload, the one transaction of an
import, the follow-up suggest job, and exports filtered by who sees what (the file formats and
their rules are in service.exchange.qdpx).

Invariants: a project import needs the server's admin token when it has one (as creating a
project does), and is refused whole or stored whole; a codebook import that makes a new version
queues a suggest job under it in the same transaction and wakes the runner after the commit; a
blind project's export holds only the codings its caller may see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from models.text.segment import SegmentationConfig, TokenCounter, approx_tokens
from service.codebooks.versions import current_ref
from service.errors import Invalid
from service.exchange import qdpx
from service.exchange.budget import ImportBudget
from service.jobs.queue import Notifier, enqueue
from service.projects.access import Caller, require_admin
from service.review.visibility import visible_coders
from service.schemas.exchange import CodebookImported, ProjectImported
from service.schemas.projects import CodebookRead, CoderCreated, CoderRead, ProjectRead
from service.storage.db import Database
from service.storage.tables import Project


def check_suffix(filename: str | None, suffix: str) -> None:
    """Refuse (422) a file whose name does not end in `suffix`."""
    if not (filename or "").lower().endswith(suffix):
        raise Invalid(f"{filename or 'the upload'}: expected a {suffix} file")


def import_project_file(db: Database, *, admin_token: str | None, token: str | None, filename: str | None, data: bytes, owner: str,
                        name: str | None = None, schema_dir: str | Path | None = None,
                        count_tokens: TokenCounter = approx_tokens, budget: ImportBudget | None = None) -> ProjectImported:
    """A .qdpx archive as a new project, with `owner` as its owner (whose token is in the answer)."""
    require_admin(admin_token, token)
    check_suffix(filename, ".qdpx")
    with db.write() as session:
        project, owner_row, secret, report = qdpx.import_project(
            session, data=data, owner_name=owner, name=name or None, schema_dir=schema_dir,
            segmentation=SegmentationConfig(), count_tokens=count_tokens, budget=budget,
        )
        created = CoderCreated(**CoderRead.model_validate(owner_row).model_dump(), token=secret)
        return ProjectImported(project=ProjectRead.model_validate(project), owner=created, report=report)


def import_codebook_file(db: Database, runner: Notifier, *, project: Project, coder: Caller, filename: str | None, data: bytes,
                         schema_dir: str | Path | None = None) -> CodebookImported:
    """A .qdc codebook as the project's next version; a new version queues a suggest job under it."""
    check_suffix(filename, ".qdc")
    with db.write() as session:
        before = current_ref(session, project).id
        row, report = qdpx.import_codebook(session, project=project, coder=coder, data=data, schema_dir=schema_dir)
        if row.id != before:
            enqueue(session, project=project, kind="suggest", coder=coder)
        out = CodebookImported(codebook=CodebookRead.model_validate(row), report=report)
    runner.notify()
    return out


def export_project_for(session: Session, *, project: Project, coder: Caller, schema_dir: str | Path | None = None) -> tuple[bytes, dict[str, Any]]:
    """The project as a .qdpx archive with the codings `coder` may see, and the export's report."""
    return qdpx.export_project(session, project=project, coder_ids=visible_coders(session, project, coder), schema_dir=schema_dir)
