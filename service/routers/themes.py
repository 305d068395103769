"""Themes, and consolidating codes (merge, split, move) as new codebook versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from service.analysis import themes as svc
from service.codebooks import restructure
from service.deps import CoderDep, DbDep, Id, MemberDep, OwnerDep, RunnerDep, SessionDep
from service.schemas.themes import (
    MergeCodes,
    MoveCode,
    Restructured,
    SplitCode,
    SplitDone,
    ThemeCreate,
    ThemeRead,
    ThemeUpdate,
)

router = APIRouter(tags=["themes"])


@router.post("/projects/{project_id}/themes", status_code=status.HTTP_201_CREATED, response_model=ThemeRead)
def create_theme(project: OwnerDep, coder: CoderDep, db: DbDep, body: ThemeCreate) -> Any:
    return svc.new_theme(db, project=project, coder=coder, name=body.name, definition=body.definition, codes=body.codes)


@router.get("/projects/{project_id}/themes", response_model=list[ThemeRead])
def list_themes(project: MemberDep, session: SessionDep) -> Any:
    return svc.themes(session, project)


@router.patch("/projects/{project_id}/themes/{theme_id}", response_model=ThemeRead)
def update_theme(project: OwnerDep, db: DbDep, theme_id: Id, body: ThemeUpdate) -> Any:
    """Change a theme's definition or codes (its memos keep the reasoning: POST .../memos)."""
    return svc.edit_theme(db, project=project, theme_id=theme_id, definition=body.definition, codes=body.codes)


@router.post("/projects/{project_id}/codebook/merge", response_model=Restructured)
def merge_codes(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: MergeCodes) -> Any:
    """Merge codes into a new or an existing code: a new codebook version, and one `remap` ledger
    entry per coding moved (the entries made under the old codes stay)."""
    return restructure.merge_codes(db, runner, project=project, coder=coder, codes=body.codes, into=body.into)


@router.post("/projects/{project_id}/codebook/split", response_model=SplitDone)
def split_code(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: SplitCode) -> Any:
    """Split a code into new codes; its codings go where `assign` says (by default, back to the
    codes they carried before the merge that made it)."""
    return restructure.split_code(db, runner, project=project, coder=coder, code=body.code, into=body.into, assign=body.assign)


@router.post("/projects/{project_id}/codebook/move", response_model=Restructured)
def move_code(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: MoveCode) -> Any:
    """Move a code, with its sub-codes, under another parent."""
    return restructure.move_code(db, runner, project=project, coder=coder, code=body.code, parent=body.parent)
