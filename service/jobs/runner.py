"""The job runner: one thread in the server process that runs queued jobs one at a time.

A job found "running" at start-up (the server stopped during it) is queued again. When the database
cannot be reached, the runner logs the error once with its traceback, then waits longer between tries
(2 s, doubling up to MAX_BACKOFF_S) and says so only when the error changes, and logs when the database
answers again. A job that finished while the database was away has its status written once it answers."""

from __future__ import annotations

import logging
import threading
import traceback

from sqlalchemy import select, update

from service.jobs.scoring import JobRun
from service.pipeline import Pipeline
from service.storage.db import Database
from service.storage.tables import (
    Job,
    utcnow,
)

log = logging.getLogger("loupe.jobs")

POLL_S = 1.0  # how long an idle runner sleeps between looks at the queue (a new job wakes it at once)
MAX_BACKOFF_S = 30.0  # the longest wait between tries while the database cannot be reached


class JobRunner:
    """Runs queued jobs one at a time on a background thread."""

    def __init__(self, db: Database, pipeline: Pipeline) -> None:
        self.db, self.pipeline = db, pipeline
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.db.write() as s:  # a job that was running when the process died runs again
            s.execute(update(Job).where(Job.status == "running").values(status="queued"))
        self._thread = threading.Thread(target=self._loop, name="loupe-jobs", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _claim(self) -> int | None:
        with self.db.read() as s:  # look first: an idle poll must not take the write lock
            if s.scalar(select(Job.id).where(Job.status == "queued").limit(1)) is None:
                return None
        with self.db.write() as s:
            job = s.scalar(select(Job).where(Job.status == "queued").order_by(Job.id).limit(1))
            if job is None:
                return None
            job.status, job.started_at, job.attempts, job.error = "running", utcnow(), job.attempts + 1, None
            return job.id

    def _finish(self, job_id: int, status: str, error: str | None) -> None:
        with self.db.write() as s:
            s.execute(update(Job).where(Job.id == job_id).values(status=status, error=error, finished_at=utcnow()))

    def _run(self, job_id: int) -> None:
        with self.db.read() as s:
            kind = s.scalar(select(Job.kind).where(Job.id == job_id))
        if kind == "cluster":
            from service.discovery.clusters import run_cluster_job

            run_cluster_job(self.db, self.pipeline, job_id)
        else:
            JobRun(self.db, self.pipeline, job_id, chunk=self.pipeline.settings.job_chunk).run()

    def _loop(self) -> None:
        wait = POLL_S
        last_error: str | None = None
        unrecorded: list[tuple[int, str, str | None]] = []  # finished jobs whose status could not be written yet
        while not self._stop.is_set():
            try:
                while unrecorded:
                    self._finish(*unrecorded[0])
                    unrecorded.pop(0)
                job_id = self._claim()
            except Exception as exc:  # the database went away: try again, less and less often
                message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                if last_error is None:
                    log.exception("cannot reach the job queue in the database; trying again, less often, until it answers")
                elif message != last_error:
                    log.warning("still cannot reach the job queue: %s", message)
                last_error = message
                job_id = None
                wait = min(wait * 2, MAX_BACKOFF_S)
            else:
                if last_error is not None:
                    log.info("the database answers again; running queued jobs")
                wait = POLL_S
                last_error = None
            if job_id is None:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            try:
                self._run(job_id)
                status, error = "done", None
            except Exception as exc:
                log.error("job %s failed:\n%s", job_id, traceback.format_exc())
                status, error = "failed", f"{type(exc).__name__}: {exc}"
            try:
                self._finish(job_id, status, error)
            except Exception:  # the database went away during the job: record it once it answers
                log.exception("could not record job %s as %s; will try again", job_id, status)
                unrecorded.append((job_id, status, error))
