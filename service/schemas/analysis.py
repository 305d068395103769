"""Request and response bodies of the analysis endpoints: memos, case attributes, matrix queries,
code counts and co-occurrence.

The response models describe, field for field, the dicts the analysis services return: a model
never adds a field (no defaults that would appear as null) and never drops one. Where the keys
are the user's own (attribute names, codes, matrix cells), the model holds a dict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from service.schemas.projects import MAX_ID


class MemoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_kind: Literal["project", "code", "document", "segment", "theme"]
    target: str = Field("", max_length=500, description="the code's path, or the document's, segment's or theme's id; empty for the project")
    text: str = Field(min_length=1, max_length=100_000)
    replaces: int | None = Field(None, ge=1, le=MAX_ID, description="the entry this one revises (the old entry stays)")


class MemoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    target_kind: str
    target: str
    text: str
    coder_id: int | None
    replaces_id: int | None
    created_at: Any


class AttributesRead(RootModel[dict[str, Any]]):
    """A document's or speaker's attributes after the change: {name: value}."""


class AttributesImported(BaseModel):
    scope: str = Field(description="document or speaker")
    rows: int = Field(description="rows applied")
    attributes: list[str] = Field(description="the attribute columns, in the file's order")


class MatrixQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"rows": {"codes": "top"}, "cols": {"attribute": "speaker:sector"}, "measure": "segments"}]})

    rows: dict[str, Any] = Field(description='{"codes": "top" | "all" | [paths]}, {"groups": {name: [paths]}}, {"themes": "all" | [names]}, '
                                             'or {"attribute": "speaker:NAME" | "document:NAME", "values": [...]}')
    cols: dict[str, Any]
    measure: Literal["segments", "documents", "agreement"] = Field("segments", description="agreement: share of the cell's segments coded by 2+ coders on which all agree")
    where: dict[str, str | int | float | bool] | None = Field(None, description='only units whose attributes match, e.g. {"document:site": "North"}')


class Passage(BaseModel):
    segment_id: int
    document: str
    speaker: str | None
    text: str
    codes: list[str]


class MatrixRead(BaseModel):
    rows: list[str] = Field(description="row labels: code paths, group or theme names, or NAME=VALUE of an attribute")
    cols: list[str]
    measure: Literal["segments", "documents", "agreement"]
    counts: list[list[int | float | None]] = Field(description="counts[row][col]; for measure=agreement a share, null where no segment has two coders")
    passages: dict[str, list[Passage]] = Field(description='{"ROW,COL": the first passages behind the cell}; empty cells are left out')


class CodeCount(BaseModel):
    code: str
    segments: int = Field(description="coded segments (the code or one of its sub-codes)")
    documents: int
    coders: int


class Cooccurrence(BaseModel):
    codes: list[str]
    window: int
    counts: list[list[int]] = Field(description="counts[i][j]: segments of codes[i] with codes[j] within the window; the diagonal counts each code's segments")
    segments: dict[str, int] = Field(description="{code: segments carrying it}")


class CodeCountsRead(BaseModel):
    codes: list[CodeCount]
    cooccurrence: Cooccurrence
