"""Fixtures for HTTP tests: a real `loupe serve` process (uvicorn) on a free port, on SQLite or
on a fresh PostgreSQL database made for the test (LOUPE_TEST_POSTGRES names the server to make it
on, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres; .ci/run makes sure one answers)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE
from tests.server_process import ServerProcess

PG_ADMIN = os.environ.get("LOUPE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TRANSCRIPTS = [SAMPLE / "p01_commissioner.txt", SAMPLE / "p05_volunteer_coordinator.vtt", SAMPLE / "p06_discharge_manager.srt"]


class Server(ServerProcess):
    """`loupe serve` with LOUPE_THREADS=2 and the session's shared embedding cache."""

    def __init__(self, data_dir: Path, database_url: str | None, cache_dir: Path, **env: str) -> None:
        super().__init__(data_dir, database_url, cache_dir, **{"LOUPE_THREADS": "2", **env})


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
    """A small client: one coder's token on one server, a real one (a URL) or an in-process app
    (an httpx.Client such as FastAPI's TestClient, shared by every Api of that app)."""

    def __init__(self, target: str | Any, token: str | None = None) -> None:
        self.client = httpx.Client(base_url=target, timeout=120) if isinstance(target, str) else target
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.client.request(method, path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def get(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, expect: int = 200, **kw):  # type: ignore[no-untyped-def]
        r = self.request(method, path, **kw)
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


def new_project(server_url: str | Any, **body) -> tuple[int, Api]:  # type: ignore[no-untyped-def]
    created = Api(server_url).ok("POST", "/projects", 201, json={"name": "study", "owner": "owner", **body})
    return created["project"]["id"], Api(server_url, created["owner"]["token"])
