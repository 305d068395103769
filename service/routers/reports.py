"""What the ledger adds up to: agreement, current codings, exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from eval.intervals import METRICS
from service.deps import CoderDep, MemberDep, SessionDep
from service.errors import Forbidden, Invalid
from service.schemas.review import AgreementRead, Format
from service.review import agreement as svc_agreement
from service.review import exports as svc
from service.review.visibility import visible_coders

router = APIRouter(tags=["reports"])
Attribute = Annotated[list[str] | None, Query(max_length=20, description="only segments whose document:NAME=VALUE or speaker:NAME=VALUE match (repeat for more)")]


def _scope(session, project, attribute):  # type: ignore[no-untyped-def]
    from service.analysis.attributes import parse_filters, segments_in_scope

    return segments_in_scope(session, project=project, where=parse_filters(attribute)) if attribute else None


def _within(records, scope):  # type: ignore[no-untyped-def]
    return records if scope is None else (r for r in records if r["segment_id"] in scope)
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
    if project.blind and coder.role != "owner":
        raise Forbidden("this project is blind: only the owner sees agreement between coders")
    chosen = tuple(metrics) if metrics else svc_agreement.DEFAULT_METRICS
    unknown = [m for m in chosen if m not in METRICS]
    if unknown:
        raise Invalid(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    return svc_agreement.agreement(session, project=project, metrics=chosen, n_boot=n_boot, segments=_scope(session, project, attribute))


def _export(records, fmt: str, columns: list[str], name: str) -> PlainTextResponse:  # type: ignore[no-untyped-def]
    return PlainTextResponse(
        svc.render(records, fmt, columns), media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@router.get("/projects/{project_id}/export/ledger", response_class=PlainTextResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}})
def export_ledger(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> PlainTextResponse:
    """Every ledger entry (what was decided, by whom, when, and what had been suggested)."""
    records = _within(svc.ledger_records(session, project=project, coder_ids=visible_coders(session, project, coder)), _scope(session, project, attribute))
    return _export(records, format, svc.DECISION_COLUMNS, f"project-{project.id}-ledger")


@router.get("/projects/{project_id}/export/codings", response_class=PlainTextResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}})
def export_codings(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> PlainTextResponse:
    """The current codings derived from the ledger: one row per (segment, coder, code) that applies."""
    records = _within(svc.coding_records(session, project=project, coder_ids=visible_coders(session, project, coder)), _scope(session, project, attribute))
    return _export(records, format, svc.CODING_COLUMNS, f"project-{project.id}-codings")
