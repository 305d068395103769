"""Who sees what: blind mode's rule, written once, and the reads that depend on it.

The rule: in a blind project a coder (any caller who is not the owner) sees only their own work:
their decisions, their codings, their memos, and what is computed from them (progress, counts,
matrix cells, exports). The owner, and everyone in a project that is not blind, sees everyone's.
`visible_coders` is the one place this is decided (None means everyone's); every read that
returns coder-attributed content filters by it or calls one of the checks here:
- decisions and codings: `decisions_for`, `decision_for`, `document_codings_for`;
- memos: service.analysis.memos filters its reads by `visible_coders`; `check_revisable` (a revision must name a memo the caller sees);
- exports (.qdpx, ledger, codings), matrix and code counts pass `visible_coders` to their queries;
- between-coder views (agreement, cluster runs, whose coverage and codes count every coder's
  codings) are refused outright to a blinded coder by `require_unblinded`;
- when a blind project also hides suggestions, a coder reads no suggestion (`hides_suggestions`).

The reads here run in the caller's (read) session and change nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.documents.store import get_document
from service.errors import Forbidden
from service.projects.access import Caller, in_project
from service.review import ledger
from service.review.progress import document_codings
from service.storage.tables import Decision, Memo, Project, Suggestion


def blinded(project: Project, coder: Caller) -> bool:
    """True when blind mode limits this caller to their own work."""
    return bool(project.blind) and coder.role != "owner"


def visible_coders(session: Session | None, project: Project, coder: Caller) -> list[int] | None:
    """The coders whose work the caller may see: [the caller] when blinded, None (everyone's) otherwise."""
    return [coder.id] if blinded(project, coder) else None


def sees(project: Project, coder: Caller, author_id: int | None) -> bool:
    """Whether the caller may see an item written by `author_id` (None: no author recorded)."""
    visible = visible_coders(None, project, coder)
    return visible is None or author_id in visible


def require_unblinded(project: Project, coder: Caller, what: str) -> None:
    """403 for a blinded coder asking for a view that mixes every coder's work (`what` names it)."""
    if blinded(project, coder):
        raise Forbidden(f"this project is blind: only the owner sees {what}")


def hides_suggestions(project: Project, coder: Caller) -> bool:
    """A blind project that hides suggestions shows a coder (not the owner) no model suggestion."""
    return blinded(project, coder) and bool(project.hide_suggestions)


def suggestion_for(session: Session, *, project: Project, coder: Caller, suggestion_id: int) -> Suggestion:
    """One suggestion of the project; 403 where the project hides suggestions from this coder."""
    if hides_suggestions(project, coder):
        raise Forbidden("this project hides model suggestions from coders (blind double-coding)")
    return in_project(session, Suggestion, project, suggestion_id, "suggestion")


def decisions_for(session: Session, *, project: Project, coder: Caller, coder_id: int | None, segment_id: int | None,
                  after: int, limit: int) -> list[Decision]:
    """A page of the ledger, oldest first, of the coders the caller may see (or of `coder_id`)."""
    visible = visible_coders(session, project, coder)
    if coder_id is not None:
        if visible is not None and coder_id not in visible:
            raise Forbidden("this project is blind: coders see only their own decisions")
        visible = [coder_id]
    return ledger.entries(session, project=project, coder_ids=visible, segment_id=segment_id, after=after, limit=limit)


def decision_for(session: Session, *, project: Project, coder: Caller, decision_id: int) -> Decision:
    """One ledger entry; 403 for another coder's entry in a blind project."""
    row = ledger.get_entry(session, project=project, decision_id=decision_id)
    if not sees(project, coder, row.coder_id):
        raise Forbidden("this project is blind: coders see only their own decisions")
    return row


def document_codings_for(session: Session, *, project: Project, coder: Caller, document_id: int) -> list[dict[str, Any]]:
    """The document's current codings as character spans (404 for a document not in the project)."""
    get_document(session, project, document_id)
    return document_codings(session, project=project, document_id=document_id, coder_ids=visible_coders(session, project, coder))


def check_revisable(memo: Memo, *, project: Project, coder: Caller) -> None:
    """A revision (`replaces`) must name a memo the caller can see: 403 for another coder's in a blind project."""
    if not sees(project, coder, memo.coder_id):
        raise Forbidden("this project is blind: coders see and revise only their own memos")
