"""The job queue: a job row records kind, status, progress, counts and errors.

A project has at most one queued job of each kind: queueing another returns the one waiting.
Whoever queues work in a transaction tells the runner (`Notifier.notify()`) only after that
transaction commits, so the runner never looks for a job it cannot see yet.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.projects.access import Caller, in_project
from service.storage.db import Database
from service.storage.tables import (
    Decision,
    Job,
    Project,
    SegmentRow,
)

KINDS = ("suggest", "retrain", "cluster")


class Notifier(Protocol):
    """What queues follow-up work needs of the job runner: a nudge to look for queued jobs."""

    def notify(self) -> None: ...


def enqueue(session: Session, *, project: Project, kind: str, coder: Caller | None = None, params: dict[str, Any] | None = None) -> Job:
    """Queue a job; a job of the same kind already queued for the project is returned instead."""
    queued = session.scalar(select(Job).where(Job.project_id == project.id, Job.kind == kind, Job.status == "queued"))
    if queued is not None:
        return queued
    last = session.scalar(select(func.max(Decision.id)).where(Decision.project_id == project.id)) or 0
    job = Job(project_id=project.id, kind=kind, status="queued", params={**(params or {}), "last_decision_id": int(last)},
              created_by=coder.id if coder else None)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, project: Project, job_id: int) -> Job:
    return in_project(session, Job, project, job_id, "job")


def list_jobs(session: Session, project: Project) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.project_id == project.id).order_by(Job.id.desc()).limit(100)))


def start_job(db: Database, runner: Notifier, *, project: Project, coder: Caller, kind: str, params: dict[str, Any] | None = None) -> Job:
    """Queue a job in its own transaction and wake the runner (see enqueue). `params` count for
    cluster jobs only (clustering options): sizes larger than the project's data segments are refused
    (422) here rather than failing in the job."""
    if kind == "cluster" and params:
        from models.discovery.clustering import ClusterConfig, check_sizes

        with db.read() as session:
            n = session.scalar(select(func.count()).select_from(SegmentRow).where(SegmentRow.project_id == project.id, SegmentRow.role == "data")) or 0
        check_sizes(n, ClusterConfig(**{k: params[k] for k in ("min_cluster_size", "min_samples", "k") if params.get(k) is not None}))
    with db.write() as session:
        job = enqueue(session, project=project, kind=kind, coder=coder, params=params if kind == "cluster" else None)
    runner.notify()
    return job
