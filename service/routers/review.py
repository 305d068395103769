"""Jobs, suggestions, the review queue and the decision ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

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
from service.errors import Forbidden
from service.projects.access import in_project, member_project
from service.review.queue import QueueFilter, hides_suggestions, queue
from service.review.visibility import visible_coders
from service.schemas.projects import JobCreate, JobRead, SegmentRead
from service.schemas.review import (
    BulkDecisions,
    BulkItem,
    BulkResult,
    DecisionCreate,
    DecisionRead,
    QueueItem,
    QueuePage,
    SuggestionRead,
)
from service.jobs import queue as jobs
from service.review import ledger
from service.storage.tables import Suggestion

router = APIRouter(tags=["review"])


def fast_json(model: BaseModel, status_code: int = 200) -> Response:
    """The model serialised once (FastAPI would validate a returned model against the
    response_model a second time); the hot endpoints use it, their schema stays documented."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/projects/{project_id}/jobs", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead, tags=["jobs"])
def start_job(project: OwnerDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: JobCreate) -> Any:
    """Queue a job (a job of the same kind already queued is returned instead). Poll GET .../jobs/{id}."""
    with db.write() as session:
        params = body.params.model_dump() if body.params is not None and body.kind == "cluster" else None
        job = jobs.enqueue(session, project=project, kind=body.kind, coder=coder, params=params)
    runner.notify()
    return job


@router.get("/projects/{project_id}/jobs", response_model=list[JobRead], tags=["jobs"])
def list_jobs(project: MemberDep, session: SessionDep) -> Any:
    return jobs.list_jobs(session, project)


@router.get("/projects/{project_id}/jobs/{job_id}", response_model=JobRead, tags=["jobs"])
def read_job(project: MemberDep, session: SessionDep, job_id: Id) -> Any:
    return jobs.get_job(session, project, job_id)


@router.get("/projects/{project_id}/suggestions/{suggestion_id}", response_model=SuggestionRead)
def read_suggestion(project: MemberDep, coder: CoderDep, session: SessionDep, suggestion_id: Id) -> Any:
    if hides_suggestions(project, coder):
        raise Forbidden("this project hides model suggestions from coders (blind double-coding)")
    return in_project(session, Suggestion, project, suggestion_id, "suggestion")


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
) -> Any:
    """The calling coder's next suggestions, most informative first, without those they already decided."""
    from service.analysis.attributes import parse_filters, segments_in_scope

    scope = segments_in_scope(session, project=project, where=parse_filters(attribute)) if attribute else None
    items, next_cursor = queue(
        session, project=project, coder=coder, cursor=cursor, limit=limit, evidence=evidence,
        filters=QueueFilter(code=code, document_id=document_id, min_score=min_score, max_score=max_score, segments=scope),
    )
    page = QueuePage(
        items=[
            QueueItem(
                segment=SegmentRead.model_validate(i.segment),
                suggestion=SuggestionRead.model_validate(i.suggestion) if i.suggestion else None,
                nearest_accepted=i.nearest,
            )
            for i in items
        ],
        next_cursor=next_cursor,
    )
    return fast_json(page)


def _input(body: DecisionCreate) -> ledger.DecisionInput:
    return ledger.DecisionInput(**body.model_dump())


def _after_write(project, db, runner) -> None:  # type: ignore[no-untyped-def]
    """Queue a retrain when enough new decisions arrived (cheap: one indexed count)."""
    with db.read() as session:
        due = ledger.retrain_due(session, project)
    if due:
        with db.write() as session:
            jobs.enqueue(session, project=project, kind="retrain")
        runner.notify()


@router.post(
    "/projects/{project_id}/decisions", status_code=status.HTTP_201_CREATED, response_model=DecisionRead,
    responses={200: {"description": "a decision with this client_key was already stored; it is returned", "model": DecisionRead}},
)
def decide(project_id: ProjectId, coder: CoderDep, db: DbDep, runner: RunnerDep, body: DecisionCreate) -> Any:
    """Record a decision: accept, reject, replace (new_code), add a code, or undo an earlier decision.
    The ledger is append-only; the answer is 201 once the entry is durably stored."""

    def write():  # type: ignore[no-untyped-def]
        with db.write() as session:  # the membership check shares the write's transaction
            project = member_project(session, coder, project_id)
            return (project, *ledger.record(session, project=project, coder=coder, data=_input(body)))

    try:
        project, entry, created = write()
    except IntegrityError:
        if body.client_key is None:
            raise
        project, entry, created = write()  # the same client_key arrived twice at once: the other request stored it
    if created:
        _after_write(project, db, runner)
    return fast_json(DecisionRead.model_validate(entry), status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.post("/projects/{project_id}/decisions/bulk", response_model=BulkResult)
def decide_many(project: MemberDep, coder: CoderDep, db: DbDep, runner: RunnerDep, body: BulkDecisions) -> BulkResult:
    """Record many decisions; each item reports its own result (a bad item does not stop the others)."""
    with db.write() as session:
        results = ledger.record_many(session, project=project, coder=coder, items=[_input(b) for b in body.items])
        items = [BulkItem(index=r.index, status=r.status, decision=DecisionRead.model_validate(r.decision) if r.decision else None,
                          error=r.error, detail=r.detail) for r in results]
    _after_write(project, db, runner)
    stored = sum(1 for i in items if i.status < 300)
    return BulkResult(stored=stored, failed=len(items) - stored, items=items)


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
    visible = visible_coders(session, project, coder)
    if coder_id is not None:
        if visible is not None and coder_id not in visible:
            raise Forbidden("this project is blind: coders see only their own decisions")
        visible = [coder_id]
    return ledger.entries(session, project=project, coder_ids=visible, segment_id=segment_id, after=after, limit=limit)


@router.get("/projects/{project_id}/decisions/{decision_id}", response_model=DecisionRead)
def read_decision(project: MemberDep, coder: CoderDep, session: SessionDep, decision_id: Id) -> Any:
    row = ledger.get_entry(session, project=project, decision_id=decision_id)
    visible = visible_coders(session, project, coder)
    if visible is not None and row.coder_id not in visible:
        raise Forbidden("this project is blind: coders see only their own decisions")
    return row
