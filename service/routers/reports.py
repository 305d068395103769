"""What the ledger adds up to: agreement, current codings, exports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from eval.intervals import METRICS
from service.deps import CoderDep, MemberDep, SessionDep
from service.review import agreement as svc_agreement
from service.review import exports as svc
from service.schemas.review import AgreementRead, Format

router = APIRouter(tags=["reports"])
Attribute = Annotated[list[str] | None, Query(max_length=20, description="only segments whose document:NAME=VALUE or speaker:NAME=VALUE match (repeat for more)")]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
DOWNLOADS: dict[int | str, dict[str, Any]] = {200: {"content": {m: {} for m in MEDIA.values()}}}


@router.get("/projects/{project_id}/agreement", response_model=AgreementRead)
def agreement(
    project: MemberDep,
    coder: CoderDep,
    session: SessionDep,
    metrics: Annotated[list[str] | None, Query(description=f"any of {', '.join(METRICS)}")] = None,
    n_boot: Annotated[int, Query(ge=0, le=5000, description="bootstrap resamples for the intervals (0: none)")] = 200,
    attribute: Attribute = None,
    weights: Annotated[Literal["linear", "quadratic"] | None, Query(description="agreement weights; on present/absent codes (two categories) they equal the unweighted values")] = None,
    weight_distance: Annotated[Literal["index", "value"], Query(description="distance the weights use: index (ordered categories, as R irr and scikit-learn) or value")] = "index",
    seed: Annotated[int, Query(ge=0, le=2**31 - 1, description="bootstrap seed (loupe agree --seed gives the same intervals on export/codings)")] = 0,
) -> Any:
    """Agreement between coders and between the model and each coder, per code and overall, with
    intervals; every estimate carries its n and a small_n flag (see small_n_rule)."""
    return svc_agreement.agreement_for(session, project=project, coder=coder, metrics=metrics, n_boot=n_boot, attribute=attribute,
                                       weights=weights, weight_distance=weight_distance, seed=seed)


def _download(body: str | bytes, fmt: str, name: str) -> Response:
    return Response(body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/projects/{project_id}/export/ledger", response_class=Response, responses=DOWNLOADS)
def export_ledger(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> Response:
    """Every ledger entry (what was decided, by whom, when, and what had been suggested): CSV, JSONL or Parquet."""
    body = svc.export_for(session, project=project, coder=coder, what="ledger", fmt=format, attribute=attribute)
    return _download(body, format, f"project-{project.id}-ledger")


@router.get("/projects/{project_id}/export/codings", response_class=Response, responses=DOWNLOADS)
def export_codings(project: MemberDep, coder: CoderDep, session: SessionDep, format: Format = "csv", attribute: Attribute = None) -> Response:
    """The decision matrix `loupe agree` reads as is: one row per decided (segment, coder, code), value 1
    applied now, 0 decided not to apply; applied codes with their selections (start, end)."""
    body = svc.export_for(session, project=project, coder=coder, what="codings", fmt=format, attribute=attribute)
    return _download(body, format, f"project-{project.id}-codings")
