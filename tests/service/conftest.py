"""The in-process layer: the real application (`create_app`) served by FastAPI's TestClient, with one
real Pipeline (the default embedder) loaded once per test session and injected into every app.
No server process, no port: the service's rules (auth, blind mode, the ledger, the queue, errors)
run here in seconds. What needs a real `loupe serve` process (crash, lifecycle, PostgreSQL
through the server, the browser, Ray) stays in tests/api, tests/web and tests/scale."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The real Pipeline (default embedder, with an embedding cache for the session)."""
    from service.pipeline import Pipeline

    home = tmp_path_factory.mktemp("pipeline")
    return Pipeline(Settings(data_dir=home, threads=2))


class App:
    """An in-process app: `url` is its TestClient (tests.api.conftest.Api and new_project take it
    where they take a server's URL). `close()` runs its shutdown (the job runner stops); a test
    that drops the app's PostgreSQL database closes the app first."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.url = client
        self.settings = settings
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.url.__exit__(None, None, None)


@pytest.fixture(scope="session")
def make_app(pipeline) -> Iterator:
    """make_app(data_dir, database_url=None, **settings) -> App, started (lifespan run); those not
    closed by their test are closed at the end of the session."""
    apps: list[App] = []

    def make(data_dir: Path, database_url: str | None = None, **overrides: object) -> App:
        settings = Settings(data_dir=data_dir, database_url=database_url, threads=2, **overrides)  # type: ignore[arg-type]
        client = TestClient(create_app(settings, pipeline=pipeline), raise_server_exceptions=False)
        client.__enter__()
        apps.append(App(client, settings))
        return apps[-1]

    yield make
    for app in apps:
        app.close()
