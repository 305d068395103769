"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.schemas.health import HealthRead, ReadyRead

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthRead)
def health() -> dict[str, str]:
    """The process is up (it may still be loading the model)."""
    return {"status": "ok"}


@router.get("/ready", response_model=ReadyRead, responses={503: {"description": "still loading, or the model or database failed", "model": ReadyRead}})
def ready(request: Request) -> JSONResponse:
    """200 once the model is loaded, the job runner runs and the database answers."""
    state = request.app.state
    body: dict[str, object] = {"model": None, "database": state.db.engine.dialect.name}
    try:
        state.db.ping()
    except Exception as exc:
        return JSONResponse({**body, "status": "database_unavailable", "detail": str(exc)[:300]}, status_code=503)
    if state.load_error:
        return JSONResponse({**body, "status": "failed", "detail": state.load_error}, status_code=503)
    if state.pipeline is None:
        return JSONResponse({**body, "status": "loading"}, status_code=503)
    return JSONResponse({**body, "status": "ready", "model": state.pipeline.model_id})
