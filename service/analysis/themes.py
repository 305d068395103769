"""Themes: named groups of codes with a definition, for the write-up.

A theme's codes are codes of the current codebook, each once, in the order given; names are unique
in a project. `new_theme` and `edit_theme` own their transaction; the others run in the caller's."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.codebooks.versions import as_codebook, current_codebook
from service.errors import Conflict, Invalid
from service.projects.access import Caller, in_project
from service.storage.db import Database
from service.storage.tables import Project, Theme


# -- themes -------------------------------------------------------------------------------------
def _known(session: Session, project: Project, codes: list[str]) -> None:
    book = as_codebook(current_codebook(session, project))
    unknown = [c for c in codes if c not in book.codes]
    if unknown:
        raise Invalid(f"unknown code {unknown[0]!r} in the current codebook")


def create_theme(session: Session, *, project: Project, coder: Caller, name: str, definition: str, codes: list[str]) -> Theme:
    _known(session, project, codes)
    if session.scalar(select(Theme.id).where(Theme.project_id == project.id, Theme.name == name)) is not None:
        raise Conflict(f"project {project.id} already has a theme named {name!r}")
    theme = Theme(project_id=project.id, name=name, definition=definition, codes=list(dict.fromkeys(codes)), created_by=coder.id)
    session.add(theme)
    session.flush()
    return theme


def update_theme(session: Session, *, project: Project, theme_id: int, definition: str | None, codes: list[str] | None) -> Theme:
    theme = in_project(session, Theme, project, theme_id, "theme")
    if codes is not None:
        _known(session, project, codes)
        theme.codes = list(dict.fromkeys(codes))
    if definition is not None:
        theme.definition = definition
    session.flush()
    return theme


def new_theme(db: Database, *, project: Project, coder: Caller, name: str, definition: str, codes: list[str]) -> Theme:
    with db.write() as session:
        return create_theme(session, project=project, coder=coder, name=name, definition=definition, codes=codes)


def edit_theme(db: Database, *, project: Project, theme_id: int, definition: str | None, codes: list[str] | None) -> Theme:
    with db.write() as session:
        return update_theme(session, project=project, theme_id=theme_id, definition=definition, codes=codes)


def themes(session: Session, project: Project) -> list[Theme]:
    return list(session.scalars(select(Theme).where(Theme.project_id == project.id).order_by(Theme.id)))
