"""What the ledger adds up to: agreement, current codings, exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from eval.intervals import METRICS
from service.deps import CoderDep, MemberDep, SessionDep
from service.review import agreement as svc_agreement
from service.review import exports as svc
from service.schemas.review import AgreementRead, Format

router = APIRouter(tags=["reports"])
Attribute = Annotated[list[str] | None, Query(max_length=20, description="only segments whose document:NAME=VALUE or speaker:NAME=VALUE match (repeat for more)")]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.get("/projects/{project_id}/agreement", response_model=AgreementRead)
def agreement(
    project: MemberDep,
    coder: CoderDep,
    session: SessionDep,
    metrics: Annotated[list[str] | None, Query(description=f"any of {', '.join(METRICS)}")] = None,
    n_boot: Annotated[int, Query(ge=0, le=5000, description="bootstrap resamples for the intervals (0: none)")] = 200,
    attribute: Attribute = None,
) -> Any:
    """Agreement between coders and between the model and each coder, per code and overall, with intervals."""
    return svc_agreement.agreement_for(session, project=project, coder=coder, metrics=metrics, n_boot=n_boot, attribute=attribute)


def _download(text: str, fmt: str, name: str) -> PlainTextResponse:
    return PlainTextResponse(text, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/projects/{project_id}/export/ledger", response_class=PlainTextResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}})
def export_ledger(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> PlainTextResponse:
    """Every ledger entry (what was decided, by whom, when, and what had been suggested)."""
    text = svc.export_for(session, project=project, coder=coder, what="ledger", fmt=format, attribute=attribute)
    return _download(text, format, f"project-{project.id}-ledger")


@router.get("/projects/{project_id}/export/codings", response_class=PlainTextResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}})
def export_codings(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> PlainTextResponse:
    """The current codings derived from the ledger: one row per (segment, coder, code) that applies."""
    text = svc.export_for(session, project=project, coder=coder, what="codings", fmt=format, attribute=attribute)
    return _download(text, format, f"project-{project.id}-codings")
