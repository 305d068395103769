"""Request and response bodies of the REFI-QDA exchange endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.schemas.projects import CodebookRead, CoderCreated, ProjectRead


class ProjectImported(BaseModel):
    project: ProjectRead
    owner: CoderCreated
    report: dict[str, Any] = Field(description="what was imported: documents, codes, coders (with their tokens, shown once), "
                                               "codings and decisions; unsupported sources; skipped codings; schema validation")


class CodebookImported(BaseModel):
    codebook: CodebookRead
    report: dict[str, Any] = Field(description="number of codes and schema validation")
