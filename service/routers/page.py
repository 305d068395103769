"""The review page (static files under /ui, no build step) and the two reads it needs beyond the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from service.deps import CoderDep, Id, MemberDep, SessionDep
from service.review import progress as page_data
from service.review.visibility import document_codings_for
from service.schemas.review import CodingSpan, ProgressRead

router = APIRouter()


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/projects/{project_id}/progress", tags=["review"], response_model=ProgressRead)
def progress(project: MemberDep, coder: CoderDep, session: SessionDep) -> Any:
    """The caller's progress under the current codebook: decided and remaining suggestions, per
    code, and the share of the model's suggestions they accepted."""
    return page_data.progress(session, project=project, coder=coder)


@router.get("/projects/{project_id}/documents/{document_id}/codings", tags=["documents"], response_model=list[CodingSpan])
def document_codings(project: MemberDep, coder: CoderDep, session: SessionDep, document_id: Id) -> Any:
    """The document's current codings as character spans, with code and coder (blind projects:
    a coder sees their own)."""
    return document_codings_for(session, project=project, coder=coder, document_id=document_id)
