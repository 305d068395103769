"""The job runner when its database goes away: one traceback, then fewer and fewer tries, and a line
when the database answers again (a runner that logged a traceback every second filled the server's
log, and, in a test process, raced the main thread's own traceback formatting)."""

from __future__ import annotations

import logging
import shutil
import time

from service.jobs import runner as runner_module
from service.jobs.runner import JobRunner
from service.storage.db import Database, sqlite_url


def test_a_database_that_goes_away_is_logged_once_and_tried_less_often(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(runner_module, "POLL_S", 0.02)
    monkeypatch.setattr(runner_module, "MAX_BACKOFF_S", 0.16)
    folder = tmp_path / "study"
    folder.mkdir()
    db = Database(sqlite_url(folder / "loupe.db"))
    db.migrate()
    # The runner never reaches a job here, so it needs no pipeline.
    runner = JobRunner(db, pipeline=None)  # type: ignore[arg-type]
    tries = []
    claim = runner._claim

    def counted():
        tries.append(time.monotonic())
        return claim()

    # Patched on this runner only: a runner of another test's app, alive in the same worker process,
    # also claims (at the patched POLL_S) and must not be counted. CI once counted 190 tries that way.
    monkeypatch.setattr(runner, "_claim", counted)
    caplog.set_level(logging.INFO, logger="loupe.jobs")
    runner.start()
    try:
        time.sleep(0.2)
        healthy = len(tries)
        shutil.rmtree(folder)  # the database file and its folder go away; pooled connections go too
        db.dispose()
        time.sleep(1.5)
        gone = tries[healthy:]
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(errors) == 1 and errors[0].exc_info is not None, [r.getMessage() for r in errors]
        assert "trying again, less often" in errors[0].getMessage()
        # Without back-off a 0.02 s poll would try about 75 times in 1.5 s; with it, about 10.
        assert 3 <= len(gone) <= 15, len(gone)
        gaps = [b - a for a, b in zip(gone, gone[1:], strict=False)]
        assert max(gaps) >= 0.12, gaps  # the wait grew towards MAX_BACKOFF_S

        folder.mkdir()  # the database is back (empty and migrated again): the runner says so
        back = Database(sqlite_url(folder / "loupe.db"))
        back.migrate()
        back.dispose()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("answers again" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        runner.stop()
    assert not runner._thread.is_alive()


def test_a_job_that_finishes_while_the_database_is_away_is_recorded_when_it_answers(tmp_path, monkeypatch, caplog):
    from service.storage.tables import Job, Project

    monkeypatch.setattr(runner_module, "POLL_S", 0.02)
    monkeypatch.setattr(runner_module, "MAX_BACKOFF_S", 0.1)
    folder, away = tmp_path / "study", tmp_path / "away"
    folder.mkdir()
    db = Database(sqlite_url(folder / "loupe.db"))
    db.migrate()
    with db.write() as s:
        project = Project(name="p")
        s.add(project)
        s.flush()
        s.add(Job(project_id=project.id, kind="suggest"))
    ran = []

    runner = JobRunner(db, pipeline=None)  # type: ignore[arg-type]

    def job_during_which_the_database_goes(job_id):  # the job's own work needs no pipeline here
        ran.append(job_id)
        folder.rename(away)  # the database's folder goes away while the job runs
        db.dispose()

    # On this runner only: another test's app alive in this worker must keep its own _run.
    monkeypatch.setattr(runner, "_run", job_during_which_the_database_goes)
    caplog.set_level(logging.INFO, logger="loupe.jobs")
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("could not record job" in r.getMessage() for r in caplog.records):
            time.sleep(0.02)
        assert ran == [1] and runner._thread.is_alive()
        assert any("could not record job 1 as done" in r.getMessage() for r in caplog.records)
        away.rename(folder)  # it is back, the job still "running" in it
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline and status != "done":
            time.sleep(0.05)
            with db.read() as s:
                status = s.get_one(Job, 1).status
        assert status == "done" and ran == [1]  # recorded, not run again
    finally:
        runner.stop()
    db.dispose()
