"""The job queue: a job row records kind, status, progress, counts and errors."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.projects.access import Caller, in_project
from service.storage.tables import (
    Decision,
    Job,
    Project,
)

KINDS = ("suggest", "retrain", "cluster")


def enqueue(session: Session, *, project: Project, kind: str, coder: Caller | None = None, params: dict | None = None) -> Job:
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
