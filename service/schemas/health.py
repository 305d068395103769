"""Bodies of the liveness and readiness endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HealthRead(BaseModel):
    status: str = Field(description="ok: the process is up")


class ReadyRead(BaseModel):
    status: str = Field(description="ready, loading, failed or database_unavailable")
    model: str | None = Field(description="the loaded model's id (null until ready)")
    database: str = Field(description="the database dialect: sqlite or postgresql")
    detail: str | None = Field(None, description="why it is not ready (absent when ready or loading)")
