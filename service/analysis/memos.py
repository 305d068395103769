"""Memos: dated, attributed entries on the project, a code, a document, a segment or a theme.
Memos are never edited: a revision is a new entry that names the one it replaces.
Blind mode (service.review.visibility): a coder of a blind project reads, exports and revises only
their own memos.

`new_memo` owns its transaction; `add_memo` runs in the caller's."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.codebooks.versions import as_codebook, current_codebook
from service.errors import Invalid, NotFound
from service.projects.access import Caller
from service.review.visibility import check_revisable, visible_coders
from service.storage.db import Database
from service.storage.tables import DocumentRow, Memo, Project, SegmentRow

TARGETS = ("project", "code", "document", "segment", "theme")


# -- memos ---------------------------------------------------------------------------------------
def add_memo(session: Session, *, project: Project, coder: Caller, target_kind: str, target: str, text: str, replaces: int | None) -> Memo:
    if target_kind not in TARGETS:
        raise Invalid(f"target_kind must be one of {', '.join(TARGETS)}")
    if target_kind == "code" and target not in as_codebook(current_codebook(session, project)).codes:
        raise Invalid(f"unknown code {target!r} in the current codebook")
    if target_kind in ("document", "segment"):
        row: DocumentRow | SegmentRow | None = None
        if target.isdigit():
            row = session.get(DocumentRow, int(target)) if target_kind == "document" else session.get(SegmentRow, int(target))
        if row is None or row.project_id != project.id:
            raise NotFound(target_kind, target)
    if replaces is not None:
        old = session.get(Memo, replaces)
        if old is None or old.project_id != project.id or (old.target_kind, old.target) != (target_kind, target):
            raise Invalid(f"memo {replaces} is not an entry of this {target_kind}'s memo")
        check_revisable(old, project=project, coder=coder)
    memo = Memo(project_id=project.id, target_kind=target_kind, target=target if target_kind != "project" else "", text=text,
                coder_id=coder.id, replaces_id=replaces)
    session.add(memo)
    session.flush()
    return memo


def new_memo(db: Database, *, project: Project, coder: Caller, target_kind: str, target: str, text: str, replaces: int | None) -> Memo:
    """add_memo in its own transaction."""
    with db.write() as session:
        return add_memo(session, project=project, coder=coder, target_kind=target_kind, target=target, text=text, replaces=replaces)


def memos(session: Session, *, project: Project, coder: Caller | None, target_kind: str | None = None, target: str | None = None) -> list[Memo]:
    """The memo entries, oldest first, that `coder` may see (None: every entry, for the owner's report)."""
    q = select(Memo).where(Memo.project_id == project.id)
    visible = visible_coders(session, project, coder) if coder is not None else None
    if visible is not None:
        q = q.where(Memo.coder_id.in_(visible))
    if target_kind:
        q = q.where(Memo.target_kind == target_kind)
    if target is not None:
        q = q.where(Memo.target == target)
    return list(session.scalars(q.order_by(Memo.id)))
