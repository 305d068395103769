"""The review page (static files under /ui, no build step) and the two reads it needs beyond the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from service.deps import CoderDep, Id, MemberDep, SessionDep
from service.documents.store import get_document
from service.review.visibility import visible_coders
from service.review import progress as page_data

router = APIRouter()


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/projects/{project_id}/progress", tags=["review"])
def progress(project: MemberDep, coder: CoderDep, session: SessionDep) -> Any:
    """The caller's progress under the current codebook: decided and remaining suggestions, per
    code, and the share of the model's suggestions they accepted."""
    return page_data.progress(session, project=project, coder=coder)


@router.get("/projects/{project_id}/documents/{document_id}/codings", tags=["documents"])
def document_codings(project: MemberDep, coder: CoderDep, session: SessionDep, document_id: Id) -> Any:
    """The document's current codings as character spans, with code and coder (blind projects:
    a coder sees their own)."""
    get_document(session, project, document_id)
    return page_data.document_codings(session, project=project, document_id=document_id, coder_ids=visible_coders(session, project, coder))
