"""Who sees what: blind projects show a coder only their own decisions, and may hide suggestions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.projects.access import Caller
from service.storage.tables import (
    Project,
)


def visible_coders(session: Session, project: Project, coder: Caller) -> list[int] | None:
    """Blind mode: a coder sees only their own decisions; the owner (and everyone when not blind) sees all."""
    return [coder.id] if project.blind and coder.role != "owner" else None
