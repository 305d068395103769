"""Bodies of the discovery endpoints: clusters, candidate codes, and what analysts do with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.schemas.projects import CodebookSummary, Read
from service.schemas.text import Name


class ClusterRead(Read):
    id: int
    run_id: int
    label: int
    size: int
    keywords: list[list[Any]] = Field(description="[term, class-based TF-IDF weight], most distinctive first")
    representatives: list[dict[str, Any]] = Field(description="members closest to the centroid, near-duplicates skipped: {id, text}")
    documents: dict[str, int]
    speakers: dict[str, int]
    coverage: float = Field(description="share of members that carry a code already (applied by a coder, or suggested above the threshold)")
    codes: list[list[Any]] = Field(description="[code, members carrying it]")
    candidate: bool
    name: str
    definition: str
    naming: dict[str, Any] = Field(description='who wrote the name and definition: {"by": "keywords"}, or {"by": "llm", "provenance": {...}}')
    status: str


class ClusterDetail(ClusterRead):
    members: list[int] = Field(description="segment ids, closest to the centroid first")


class RunRead(Read):
    id: int
    job_id: int | None
    codebook_id: int
    method: str
    params: dict[str, Any]
    created_at: datetime


class ClustersRead(BaseModel):
    run: RunRead
    clusters: list[ClusterRead]


class MapPoint(BaseModel):
    id: int = Field(description="segment id")
    x: float
    y: float
    cluster: int = Field(description="the cluster's label (-1: noise)")
    code: str | None = Field(description="the segment's top code")


class ClusterMap(BaseModel):
    projection: str = Field(description="pca or umap")
    points: list[MapPoint]


class AdoptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, min_length=1, max_length=200, description="the new code's name (default: the suggested one)")
    definition: str | None = Field(None, min_length=1, max_length=5000)
    parent: str | None = Field(None, max_length=500, description="path of the code to put it under (default: top level)")


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=500, description="path of the existing code that gets the cluster's examples")
    note: str | None = Field(None, max_length=5000)


class DismissBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=5000, description="why (kept with the action)")


class ActionRead(Read):
    id: int
    cluster_id: int
    coder_id: int | None
    action: str
    code: str | None
    codebook_id: int | None
    note: str | None
    created_at: datetime


class ActionResult(BaseModel):
    action: ActionRead
    codebook: CodebookSummary | None = None
    suggestions: int = 0
