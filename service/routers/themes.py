"""Themes, and consolidating codes (merge, split, move) as new codebook versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from service.deps import CoderDep, DbDep, Id, MemberDep, OwnerDep, RunnerDep, SessionDep
from service.jobs.queue import enqueue
from service.analysis import themes as svc
from service.codebooks import restructure

router = APIRouter(tags=["themes"])


class ThemeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    definition: str = Field("", max_length=20_000)
    codes: list[str] = Field(default_factory=list, max_length=1000)


class ThemeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: str | None = Field(None, max_length=20_000)
    codes: list[str] | None = Field(None, max_length=1000)


class ThemeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    definition: str
    codes: list[str]
    created_by: int | None
    created_at: Any


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"codes": ["trust/personal", "trust/organisational"], "into": {"name": "Kinds of trust", "parent": "trust"}}]})

    codes: list[str] = Field(min_length=1, max_length=100)
    into: dict[str, Any] = Field(description='a new code {"name", "definition", "id"?, "parent"?}, or an existing one {"code": path}')


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=500)
    into: list[dict[str, Any]] = Field(min_length=1, max_length=50, description='new codes beside it: {"name", "definition", "id"?}')
    assign: dict[int, str] | str = Field("history", description='"history" (back to the codes merged into it) or {segment id: new code path}')


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=500)
    parent: str | None = Field(None, max_length=500, description="the new parent's path (null: top level)")


def _done(book, runner, session, project, coder, **extra) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    enqueue(session, project=project, kind="suggest", coder=coder)
    return {"codebook_version": book.version, "codebook_id": book.id, **extra}


@router.post("/projects/{project_id}/themes", status_code=status.HTTP_201_CREATED, response_model=ThemeRead)
def create_theme(project: OwnerDep, coder: CoderDep, db: DbDep, body: ThemeCreate) -> Any:
    with db.write() as session:
        return ThemeRead.model_validate(svc.create_theme(session, project=project, coder=coder, name=body.name, definition=body.definition, codes=body.codes))


@router.get("/projects/{project_id}/themes", response_model=list[ThemeRead])
def list_themes(project: MemberDep, session: SessionDep) -> Any:
    return svc.themes(session, project)


@router.patch("/projects/{project_id}/themes/{theme_id}", response_model=ThemeRead)
def update_theme(project: OwnerDep, db: DbDep, theme_id: Id, body: ThemeUpdate) -> Any:
    """Change a theme's definition or codes (its memos keep the reasoning: POST .../memos)."""
    with db.write() as session:
        return ThemeRead.model_validate(svc.update_theme(session, project=project, theme_id=theme_id, definition=body.definition, codes=body.codes))


@router.post("/projects/{project_id}/codebook/merge")
def merge_codes(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: MergeBody) -> Any:
    """Merge codes into a new or an existing code: a new codebook version, and one `remap` ledger
    entry per coding moved (the entries made under the old codes stay)."""
    with db.write() as session:
        book, target, made = restructure.merge(session, project=project, coder=coder, codes=body.codes, into=body.into)
        out = _done(book, runner, session, project, coder, code=target, remapped=made)
    runner.notify()
    return out


@router.post("/projects/{project_id}/codebook/split")
def split_code(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: SplitBody) -> Any:
    """Split a code into new codes; its codings go where `assign` says (by default, back to the
    codes they carried before the merge that made it)."""
    with db.write() as session:
        book, paths, made = restructure.split(session, project=project, coder=coder, code=body.code, into=body.into, assign=body.assign)
        out = _done(book, runner, session, project, coder, codes=paths, remapped=made)
    runner.notify()
    return out


@router.post("/projects/{project_id}/codebook/move")
def move_code(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: MoveBody) -> Any:
    """Move a code, with its sub-codes, under another parent."""
    with db.write() as session:
        book, path, made = restructure.move(session, project=project, coder=coder, code=body.code, parent=body.parent)
        out = _done(book, runner, session, project, coder, code=path, remapped=made)
    runner.notify()
    return out
