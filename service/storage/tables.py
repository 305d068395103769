"""The database tables (SQLAlchemy 2 declarative). Migrations live in storage/migrations.

Shape of the domain (house style): a Project holds Documents, split into Segments with exact
offsets; a Codebook is versioned (editing makes a new row); a Suggestion is what a model proposed
for (segment, code) under one codebook version; a Decision is one entry of the append-only ledger
of what a named coder did. Decisions are never updated or deleted: undo is a new entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no zone; it is added back on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_suggestions: Mapped[bool] = mapped_column(Boolean, default=False)
    queue_mode: Mapped[str] = mapped_column(String(20), default="information")
    retrain_every: Mapped[int] = mapped_column(Integer, default=50)
    threshold: Mapped[float] = mapped_column(Float, default=0.5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What a REFI-QDA file said about this row (GUIDs, names, creation times), kept only to be
    # written back on export (service.exchange.qdpx); None for what was made in Loupe.
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Coder(Base):
    __tablename__ = "coders"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # owner | coder
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # REFI-QDA identity from an imported file (see Project.exchange)
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CodebookVersion(Base):
    __tablename__ = "codebooks"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # the codebook file format, as parsed
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    is_transcript: Mapped[bool] = mapped_column(Boolean, default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # REFI-QDA identity from an imported file (see Project.exchange)
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("document_id", "ordinal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    ordinal: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sentences: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end], ...] relative to text
    # "data", "metadata" (a title or header line) or "interviewer" (models.base.Segment.role): every
    # segment stays for context, only data gets suggestions, sits in the queue and is clustered.
    role: Mapped[str] = mapped_column(String(16), default="data", server_default="data")
    # Where the segment sits in its source (models.base.Segment): the PDF page it starts on, the
    # caption times it covers (.vtt/.srt). None where the format has no such thing.
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class SegmentVector(Base):
    """A segment's embedding under one model (kept apart so the segments table stays small to scan)."""

    __tablename__ = "segment_vectors"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, L2-normalised


class Suggestion(Base):
    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("segment_id", "codebook_id", "code"),
        Index("ix_suggestions_queue", "project_id", "codebook_id", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    codebook_id: Mapped[int] = mapped_column(ForeignKey("codebooks.id"))
    code: Mapped[str] = mapped_column(String(500))
    score: Mapped[float] = mapped_column(Float)
    priority: Mapped[float] = mapped_column(Float, default=0.0)  # review rank: lower comes first
    model: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Decision(Base):
    """One ledger entry. Never updated, never deleted.

    segment_id and suggestion_id are plain ids, not foreign keys: deleting a document deletes its
    segments and suggestions but never a decision (service.documents.delete); such an entry's ids
    no longer resolve, and a `tombstone` entry records the deletion (who, when, which document).

    `effects` is what the entry did to the coder's coding of the segment: {code: true|false}
    (accept/add: {code: true}; reject: {code: false}; replace: {code: false, new_code: true};
    undo: the states from before the undone entry). The current coding is the fold of effects in
    id order, per (segment, coder).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("coder_id", "client_key"),
        Index("ix_decisions_coder_segment", "coder_id", "segment_id"),
        Index("ix_decisions_project", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    segment_id: Mapped[int] = mapped_column(Integer)  # segments.id, kept when the segment is deleted
    coder_id: Mapped[int] = mapped_column(ForeignKey("coders.id"))
    verdict: Mapped[str] = mapped_column(String(20))  # accept | reject | replace | add | undo | remap | tombstone
    code: Mapped[str] = mapped_column(String(500))
    new_code: Mapped[str | None] = mapped_column(String(500), nullable=True)
    effects: Mapped[dict[str, Any]] = mapped_column(JSON)
    codebook_id: Mapped[int] = mapped_column(ForeignKey("codebooks.id"))
    suggestion_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # suggestions.id, kept when deleted
    suggested_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    suggested_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), nullable=True)
    memo: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The character selection [span_start, span_end) of the document the coder applied the code
    # to, when it is not the whole segment (codings imported from a QDA tool keep theirs).
    span_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    span_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # REFI-QDA identity from an imported file (see Project.exchange)
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # suggest | retrain
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued running done failed
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ClusterRun(Base):
    """One clustering of a project's segments (a cluster job's result), with its 2-D map."""

    __tablename__ = "cluster_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    codebook_id: Mapped[int] = mapped_column(ForeignKey("codebooks.id"))
    method: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    points: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"projection": ..., "points": [{id, x, y, cluster, code}]}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cluster(Base):
    """A cluster of one run; `candidate` when the codebook covers it poorly. `status` follows the
    latest ClusterAction (open until someone adopts, merges or dismisses it)."""

    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("run_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("cluster_runs.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    label: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    representatives: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"id": segment id, "text": ...}]
    members: Mapped[list[Any]] = mapped_column(JSON, default=list)  # segment ids, closest to the centroid first
    similarities: Mapped[list[Any]] = mapped_column(JSON, default=list)  # cosine to the centroid, per member
    documents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    speakers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    coverage: Mapped[float] = mapped_column(Float)
    codes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    candidate: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    definition: Mapped[str] = mapped_column(Text, default="")
    naming: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # who wrote name and definition: {"by": "keywords"} or an LLM's provenance
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | adopted | merged | dismissed


class ClusterAction(Base):
    """What an analyst did with a cluster (append-only): adopt as a new code, merge into a code, dismiss."""

    __tablename__ = "cluster_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    coder_id: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(20))  # adopt | merge | dismiss
    code: Mapped[str | None] = mapped_column(String(500), nullable=True)
    codebook_id: Mapped[int | None] = mapped_column(ForeignKey("codebooks.id"), nullable=True)  # the version it made
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Memo(Base):
    """One dated, attributed memo entry on a project, code, document, segment or theme. Entries are
    never edited: a change is a new entry that names the one it `replaces` (the history stays)."""

    __tablename__ = "memos"
    __table_args__ = (Index("ix_memos_target", "project_id", "target_kind", "target", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    target_kind: Mapped[str] = mapped_column(String(20))  # project | code | document | segment | theme
    target: Mapped[str] = mapped_column(String(500), default="")  # code path or id ("" for the project)
    text: Mapped[str] = mapped_column(Text)
    coder_id: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("memos.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # REFI-QDA identity from an imported file (see Project.exchange)
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class SpeakerAttributes(Base):
    """Typed attributes of a speaker (who said it: sector, role, site), by the speaker's label."""

    __tablename__ = "speaker_attributes"
    __table_args__ = (UniqueConstraint("project_id", "speaker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    speaker: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Theme(Base):
    """A theme: a named group of codes (a code may sit in several themes), with a definition.
    Its memos are Memo rows with target_kind "theme"."""

    __tablename__ = "themes"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text, default="")
    codes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # code paths
    created_by: Mapped[int | None] = mapped_column(ForeignKey("coders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
