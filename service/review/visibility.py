"""Who sees what, and the reads that depend on it.

Invariants:
- In a blind project a coder sees only their own decisions and codings; the owner (and everyone,
  when the project is not blind) sees all of them. `visible_coders` is the one place this is
  decided: None means everyone's.
- When a blind project also hides suggestions, a coder (not the owner) can read no suggestion.
- The reads here run in the caller's (read) session and change nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.documents.store import get_document
from service.errors import Forbidden
from service.projects.access import Caller, in_project
from service.review import ledger
from service.review.progress import document_codings
from service.review.queue import hides_suggestions
from service.storage.tables import Decision, Project, Suggestion


def visible_coders(session: Session, project: Project, coder: Caller) -> list[int] | None:
    """Blind mode: a coder sees only their own decisions; the owner (and everyone when not blind) sees all."""
    return [coder.id] if project.blind and coder.role != "owner" else None


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
    visible = visible_coders(session, project, coder)
    if visible is not None and row.coder_id not in visible:
        raise Forbidden("this project is blind: coders see only their own decisions")
    return row


def document_codings_for(session: Session, *, project: Project, coder: Caller, document_id: int) -> list[dict[str, Any]]:
    """The document's current codings as character spans (404 for a document not in the project)."""
    get_document(session, project, document_id)
    return document_codings(session, project=project, document_id=document_id, coder_ids=visible_coders(session, project, coder))
