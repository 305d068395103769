"""Request and response bodies of themes, and of consolidating codes (merge, split, move).

The restructuring results describe exactly the dicts the endpoints answered before they had a
model: no field is added or dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.schemas.text import Name


class ThemeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=200)
    definition: str = Field("", max_length=20_000)
    codes: list[str] = Field(default_factory=list, max_length=1000)


class ThemeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: str | None = Field(None, max_length=20_000)
    codes: list[str] | None = Field(None, max_length=1000)


class ThemeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    definition: str
    codes: list[str]
    created_by: int | None
    created_at: Any


class MergeCodes(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"codes": ["trust/personal", "trust/organisational"], "into": {"name": "Kinds of trust", "parent": "trust"}}]})

    codes: list[str] = Field(min_length=1, max_length=100)
    into: dict[str, Any] = Field(description='a new code {"name", "definition", "id"?, "parent"?}, or an existing one {"code": path}')


class SplitCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=500)
    into: list[dict[str, Any]] = Field(min_length=1, max_length=50, description='new codes beside it: {"name", "definition", "id"?}')
    assign: dict[int, str] | str = Field("history", description='"history" (back to the codes merged into it) or {segment id: new code path}')


class MoveCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=500)
    parent: str | None = Field(None, max_length=500, description="the new parent's path (null: top level)")


class Restructured(BaseModel):
    """A merge or a move: the new codebook version and where the codings went."""

    codebook_version: int
    codebook_id: int
    code: str = Field(description="the code the codings now carry (merge: the target; move: the code's new path)")
    remapped: int = Field(description="remap entries appended to the ledger")


class SplitDone(BaseModel):
    codebook_version: int
    codebook_id: int
    codes: list[str] = Field(description="the new codes' paths")
    remapped: int = Field(description="remap entries appended to the ledger")
