"""Request and response bodies: projects, coders, codebooks, documents, segments, jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas.text import Name

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "NHS and voluntary sector", "owner": "amira", "blind": True}]},
    )

    name: Name = Field(min_length=1, max_length=200)
    owner: Name = Field(min_length=1, max_length=200, description="name of the owner coder, created with the project")
    description: str = Field("", max_length=10_000)
    blind: bool = Field(False, description="coders see only their own decisions")
    hide_suggestions: bool = Field(False, description="in blind mode, coders see no model suggestions (independent double-coding)")
    queue_mode: Literal["information", "coverage"] = Field("information", description="coverage: codes with few decisions first")
    retrain_every: int = Field(50, ge=0, le=1_000_000, description="queue a retrain job after this many new decisions (0: never)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="minimum score of a suggestion")
    codebook: dict[str, Any] | None = Field(None, description="a codebook document (the codebook file format); default: the seed codebook")


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"blind": True, "hide_suggestions": False}]})

    name: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    blind: bool | None = None
    hide_suggestions: bool | None = None
    queue_mode: Literal["information", "coverage"] | None = None
    retrain_every: int | None = Field(None, ge=0, le=1_000_000)
    threshold: float | None = Field(None, ge=0.0, le=1.0)


class ProjectRead(Read):
    id: int
    name: str
    description: str
    blind: bool
    hide_suggestions: bool
    queue_mode: str
    retrain_every: int
    threshold: float
    created_at: datetime


class CoderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "ben", "role": "coder"}]})

    name: Name = Field(min_length=1, max_length=200)
    role: Literal["owner", "coder"] = "coder"


class CoderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}, {"new_token": True}]})

    active: bool | None = Field(None, description="false: the coder's token stops working (their decisions stay)")
    new_token: bool = Field(False, description="issue a new token; the old one stops working")


class CoderRead(Read):
    id: int
    project_id: int
    name: str
    role: str
    active: bool
    created_at: datetime


class CoderUpdated(CoderRead):
    token: str | None = Field(None, description="the new token, when one was asked for; shown this once")


class CoderCreated(CoderRead):
    token: str = Field(description="the coder's API token; shown this once, stored only as a hash")


class ProjectCreated(BaseModel):
    project: ProjectRead
    owner: CoderCreated


class CodebookRead(Read):
    id: int
    version: int
    name: str
    fingerprint: str
    created_at: datetime
    content: dict[str, Any]


class CodebookSummary(Read):
    id: int
    version: int
    name: str
    fingerprint: str
    created_at: datetime


class TextDocumentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "interview-07.txt", "text": "Interviewer: How did trust change?\nP7: It took years to build."}]},
    )

    name: Name = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1)
    unit: Literal["auto", "sentence", "turn", "paragraph", "window"] = "auto"


class DocumentRead(Read):
    id: int
    name: str
    format: str
    sha256: str
    is_transcript: bool
    attributes: dict[str, Any]
    created_at: datetime
    segments: int = 0


class DocumentText(DocumentRead):
    text: str


class DocumentRename(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "interview-07 (site B).txt"}]})

    name: Name = Field(min_length=1, max_length=500, description="the new name; unique in the project")


class DocumentColumns(BaseModel):
    """A .csv/.jsonl file's columns and first rows (nothing stored), with the columns a picker may preselect."""

    name: str
    columns: list[str]
    sample: list[dict[str, str]] = Field(description="the first rows, column -> value")
    text_column: str | None = Field(description="a guess: 'text'/'response'/'answer', else the column with the longest values")
    id_column: str | None
    speaker_column: str | None


class DocumentDeleted(BaseModel):
    """What deleting a document removed and what the ledger kept."""

    document_id: int
    name: str
    segments_deleted: int
    suggestions_deleted: int
    decisions_kept: int = Field(description="ledger entries on the document's segments: kept, left out of codings, exports and agreement")
    tombstone_id: int = Field(description="the ledger entry (verdict 'tombstone') that records the deletion")


class SegmentRead(Read):
    id: int
    document_id: int
    ordinal: int
    start: int = Field(description="character offset into the document's text (inclusive)")
    end: int = Field(description="character offset into the document's text (exclusive)")
    text: str
    speaker: str | None
    sentences: list[list[int]] = Field(description="[start, end] of each sentence, relative to the segment text")
    role: str = Field("data", description="data, metadata (a title or header line) or interviewer: only data gets suggestions")
    page: int | None = Field(None, description="the PDF page the segment starts on (1-based); null for other formats")
    start_s: float | None = Field(None, description=".vtt/.srt: the start of the first caption the segment covers, in seconds")
    end_s: float | None = Field(None, description=".vtt/.srt: the end of the last caption the segment covers, in seconds")


class ClusterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["auto", "hdbscan", "kmeans"] = Field("auto", description="auto: HDBSCAN up to 20,000 segments, faiss k-means above")
    min_cluster_size: int | None = Field(None, ge=2, le=100_000, description="HDBSCAN (default: max(5, n/200))")
    min_samples: int | None = Field(None, ge=1, le=100_000, description="HDBSCAN (default: min_cluster_size)")
    k: int | None = Field(None, ge=2, le=10_000, description="k-means clusters (default: sqrt(n/2))")
    coverage_threshold: float = Field(0.5, ge=0.0, le=1.0, description="clusters covered less than this are candidate codes")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    projection: Literal["pca", "umap"] = Field("pca", description="the 2-D map (umap needs umap-learn)")


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"kind": "suggest"}]})

    kind: Literal["suggest", "retrain", "cluster"] = Field(
        description="suggest: score the project's segments; retrain: learn from the decisions, then score; "
                    "cluster: cluster the segments and list candidate codes (GET .../clusters)")
    params: ClusterParams | None = Field(None, description="for kind=cluster: clustering options")


class JobRead(Read):
    id: int
    project_id: int
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    total: int
    done: int
    counts: dict[str, Any]
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
