"""Fixtures for HTTP tests: a real `loupe serve` process (uvicorn) on a free port, on SQLite or
on a fresh PostgreSQL database made for the test (LOUPE_TEST_POSTGRES names the server to make it
on, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres; .ci/run makes sure one answers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SAMPLE

PG_ADMIN = os.environ.get("LOUPE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TRANSCRIPTS = [SAMPLE / "p01_commissioner.txt", SAMPLE / "p05_volunteer_coordinator.vtt", SAMPLE / "p06_discharge_manager.srt"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `loupe serve` subprocess. `start()` waits for /ready; `kill()` sends SIGKILL."""

    def __init__(self, data_dir: Path, database_url: str | None, cache_dir: Path, **env: str) -> None:
        self.data_dir, self.database_url, self.cache_dir, self.extra = data_dir, database_url, cache_dir, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 180) -> "Server":
        env = {**os.environ, "LOUPE_DATA_DIR": str(self.data_dir), "LOUPE_CACHE_DIR": str(self.cache_dir), "LOUPE_THREADS": "2", **self.extra}
        if self.database_url:
            env["LOUPE_DATABASE_URL"] = self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server was not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def postgres_database() -> tuple[str, callable]:
    """A fresh PostgreSQL database: (url, drop). Skips with a message when no server answers."""
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"loupe_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("LOUPE_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN} ({str(exc).splitlines()[0]}); .ci/run starts one")
    url = admin.url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One embedding cache for every server of the session, so texts are encoded once."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """(database URL or None for the SQLite default, backend name)."""
    if request.param == "sqlite":
        yield None, "sqlite"
        return
    url, drop = postgres_database()
    yield url, "postgresql"
    drop()


@pytest.fixture
def make_server(tmp_path, shared_cache):
    servers: list[Server] = []

    def make(database_url: str | None = None, data_dir: Path | None = None, **env: str) -> Server:
        server = Server(data_dir or tmp_path / "data", database_url, shared_cache, **env)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


class Api:
    """A small client: one coder's token on one server."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.client = httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"} if token else {})

    def __getattr__(self, name: str):  # get, post, put, patch
        return getattr(self.client, name)

    def ok(self, method: str, path: str, expect: int = 200, **kw):  # type: ignore[no-untyped-def]
        r = self.client.request(method, path, **kw)
        assert r.status_code == expect, f"{method} {path} -> {r.status_code}: {r.text[:500]}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text


def wait_for_job(api: Api, project_id: int, job_id: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    seen_progress = []
    while time.monotonic() < deadline:
        job = api.ok("GET", f"/projects/{project_id}/jobs/{job_id}")
        seen_progress.append(job["done"])
        if job["status"] in ("done", "failed"):
            job["seen_progress"] = seen_progress
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def new_project(server_url: str, **body) -> tuple[int, Api]:  # type: ignore[no-untyped-def]
    created = Api(server_url).ok("POST", "/projects", 201, json={"name": "study", "owner": "owner", **body})
    return created["project"]["id"], Api(server_url, created["owner"]["token"])
