"""The HTTP application: `create_app(settings)`. Importing this module opens nothing and loads no model.

Start-up (lifespan): open the database and migrate it, then load the model on a background thread;
`/health` answers at once, `/ready` answers 200 once the model is loaded and the job runner runs.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from service.errors import declare_errors, install_error_handlers
from service.settings import Settings
from service.uploads import BodyLimit

if TYPE_CHECKING:
    from service.pipeline import Pipeline

log = logging.getLogger("loupe.app")

DESCRIPTION = """Review model-suggested codes for qualitative data, with a decision ledger that never loses a decision.

Authenticate with `Authorization: Bearer <token>`: creating a project returns its owner's token; the owner adds coders
(each gets a token, shown once). Errors have one shape: `{"error": "<kind>", "detail": "<message>"}`."""


def create_app(settings: Settings | None = None, *, pipeline: Pipeline | None = None) -> FastAPI:
    """The application. With `pipeline` (an already loaded Pipeline, e.g. one shared by a test
    session), start-up uses it instead of loading the model on a background thread: the app is
    ready as soon as the database is migrated."""
    from service.routers import (
        analysis,
        discovery,
        documents,
        exchange,
        health,
        page,
        projects,
        reports,
        review,
        themes,
    )

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from service.storage.db import Database

        db = Database(settings.database)
        db.migrate()
        app.state.db = db
        app.state.pipeline = None
        app.state.runner = None
        app.state.load_error = None
        loader = threading.Thread(target=_load_pipeline, args=(app, settings, pipeline), name="loupe-load", daemon=True)
        if pipeline is None:
            loader.start()
        else:
            _load_pipeline(app, settings, pipeline)
        yield
        if loader.is_alive():
            loader.join(timeout=60)
        if app.state.runner is not None:
            app.state.runner.stop()
        db.dispose()

    app = FastAPI(title="Loupe", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    declare_errors(app)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 64 * 1024)  # room for multipart framing
    for module in (health, exchange, projects, documents, review, reports, discovery, page, analysis, themes):
        app.include_router(module.router)
    from importlib import resources

    from fastapi.staticfiles import StaticFiles

    app.mount("/ui", StaticFiles(directory=str(resources.files("service").joinpath("web")), html=True), name="ui")
    return app


def _load_pipeline(app: FastAPI, settings: Settings, pipeline: Pipeline | None = None) -> None:
    from threadpoolctl import threadpool_limits

    from service.jobs.runner import JobRunner
    from service.pipeline import Pipeline

    # Requests do small matrix products (evidence search); a multi-threaded BLAS spins its threads
    # up for each and takes the cores that other requests need. The encoder uses torch's threads.
    threadpool_limits(1, user_api="blas")
    try:
        pipeline = pipeline or Pipeline(settings)
        runner = JobRunner(app.state.db, pipeline)
        runner.start()
        app.state.runner = runner
        app.state.pipeline = pipeline
        # The model and libraries are millions of long-lived objects: move them out of the
        # collector's sight, so a full collection during a request takes microseconds, not tens of ms.
        gc.collect()
        gc.freeze()
        log.info("model %s loaded; ready", pipeline.model_id)
    except Exception as exc:  # reported by /ready
        log.exception("the model could not be loaded")
        app.state.load_error = f"{type(exc).__name__}: {exc}"
