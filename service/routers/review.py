"""Jobs, suggestions, the review queue and the decision ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from service.deps import (
    MAX_ID,
    CoderDep,
    DbDep,
    Id,
    MemberDep,
    OwnerDep,
    ProjectId,
    RunnerDep,
    SessionDep,
)
from service.jobs import queue as jobs
from service.review import decisions, visibility
from service.review.queue import queue_page
from service.schemas.projects import JobCreate, JobRead
from service.schemas.review import (
    BulkDecisions,
    BulkResult,
    DecisionCreate,
    DecisionRead,
    QueuePage,
    SuggestionRead,
)

router = APIRouter(tags=["review"])


def fast_json(model: BaseModel, status_code: int = 200) -> Response:
    """The model serialised once (FastAPI would validate a returned model against the
    response_model a second time); the hot endpoints use it, their schema stays documented."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/projects/{project_id}/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead, tags=["jobs"])
def start_job(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: JobCreate) -> Any:
    """Queue a job (a job of the same kind already queued is returned instead). Poll GET .../jobs/{id}."""
    params = body.params.model_dump() if body.params is not None else None
    return jobs.start_job(db, runner, project=project, coder=coder, kind=body.kind, params=params)


@router.get("/projects/{project_id}/jobs", response_model=list[JobRead], tags=["jobs"])
def list_jobs(project: MemberDep, session: SessionDep) -> Any:
    return jobs.list_jobs(session, project)


@router.get("/projects/{project_id}/jobs/{job_id}", response_model=JobRead, tags=["jobs"])
def read_job(project: MemberDep, session: SessionDep, job_id: Id) -> Any:
    return jobs.get_job(session, project, job_id)


@router.get("/projects/{project_id}/suggestions/{suggestion_id}", response_model=SuggestionRead)
def read_suggestion(project: MemberDep, coder: CoderDep, session: SessionDep, suggestion_id: Id) -> Any:
    return visibility.suggestion_for(session, project=project, coder=coder, suggestion_id=suggestion_id)


@router.get("/projects/{project_id}/queue", response_model=QueuePage)
def review_queue(
    project: MemberDep,
    coder: CoderDep,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=500, description="this code and its sub-codes")] = None,
    document_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    max_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    evidence: Annotated[bool, Query(description="include the nearest segments already accepted for each code")] = True,
    attribute: Annotated[list[str] | None, Query(max_length=20, description="document:NAME=VALUE or speaker:NAME=VALUE (repeat for more)")] = None,
) -> Response:
    """The calling coder's next suggestions, most informative first, without those they already decided."""
    return fast_json(queue_page(session, project=project, coder=coder, code=code, document_id=document_id, min_score=min_score,
                                max_score=max_score, attribute=attribute, cursor=cursor, limit=limit, evidence=evidence))


@router.post(
    "/projects/{project_id}/decisions", status_code=status.HTTP_201_CREATED, response_model=DecisionRead,
    responses={200: {"description": "a decision with this client_key was already stored; it is returned", "model": DecisionRead}},
)
def decide(project_id: ProjectId, coder: CoderDep, db: DbDep, runner: RunnerDep, body: DecisionCreate) -> Response:
    """Record a decision: accept, reject, replace (new_code), add a code, or undo an earlier decision.
    The ledger is append-only; the answer is 201 once the entry is durably stored."""
    entry, created = decisions.decide(db, runner, project_id=project_id, coder=coder, data=body)
    return fast_json(entry, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.post("/projects/{project_id}/decisions/bulk", response_model=BulkResult)
def decide_many(project: MemberDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: BulkDecisions) -> BulkResult:
    """Record many decisions; each item reports its own result (a bad item does not stop the others)."""
    return decisions.decide_many(db, runner, project=project, coder=coder, items=body.items)


@router.get("/projects/{project_id}/decisions", response_model=list[DecisionRead])
def list_decisions(
    project: MemberDep,
    coder: CoderDep,
    session: SessionDep,
    coder_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    segment_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="entries with a larger id (keyset pagination)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The ledger, oldest first. In a blind project a coder sees only their own entries."""
    return visibility.decisions_for(session, project=project, coder=coder, coder_id=coder_id, segment_id=segment_id, after=after, limit=limit)


@router.get("/projects/{project_id}/decisions/{decision_id}", response_model=DecisionRead)
def read_decision(project: MemberDep, coder: CoderDep, session: SessionDep, decision_id: Id) -> Any:
    return visibility.decision_for(session, project=project, coder=coder, decision_id=decision_id)
