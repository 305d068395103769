"""Request and response bodies: suggestions, the review queue, decisions, progress, agreement.

Response models describe exactly what the review services return: no field added or dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas.projects import MAX_ID, Read, SegmentRead


class EvidenceRead(BaseModel):
    sentence: str = Field(description="the sentence of the segment that drove the score")
    start: int
    end: int
    matched: str = Field(description="the codebook passage it matched best")
    matched_kind: str
    similarity: float
    llm: dict[str, Any] | None = Field(None, description="when an LLM verified the suggestion: its P(applies), the prior score, "
                                                          "the blend weight and the provenance (model, backend, prompt template and hash, time)")


class NearestRead(BaseModel):
    segment_id: int
    text: str
    similarity: float


class SuggestionRead(Read):
    id: int
    segment_id: int
    document_id: int
    code: str
    score: float
    model: str
    codebook_id: int
    evidence: EvidenceRead
    priority: float
    created_at: datetime


class QueueItem(BaseModel):
    segment: SegmentRead
    suggestion: SuggestionRead | None = Field(description="null when the project hides suggestions from coders")
    nearest_accepted: list[NearestRead] = Field(default_factory=list, description="segments already accepted for this code, most similar first")


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at the end")


class DecisionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"suggestion_id": 12, "verdict": "accept", "client_key": "7f8c-1"},
                {"suggestion_id": 13, "verdict": "replace", "new_code": "trust/institutional", "memo": "about the trust board"},
                {"segment_id": 40, "verdict": "add", "code": "power/resources"},
                {"segment_id": 40, "verdict": "add", "code": "power/resources", "start": 1210, "end": 1262},
                {"verdict": "undo", "undoes": 101},
            ]
        },
    )

    verdict: Literal["accept", "reject", "replace", "add", "undo"]
    suggestion_id: int | None = Field(None, ge=1, le=MAX_ID, description="the suggestion answered (gives segment and code)")
    segment_id: int | None = Field(None, ge=1, le=MAX_ID)
    code: str | None = Field(None, max_length=500, description="the code decided (default: the suggestion's)")
    new_code: str | None = Field(None, max_length=500, description="replace: the code that applies instead")
    undoes: int | None = Field(None, ge=1, le=MAX_ID, description="undo: the id of your decision to undo")
    memo: str | None = Field(None, max_length=20_000)
    client_key: str | None = Field(None, max_length=100, description="idempotency key: a retry with the same key returns the stored decision")
    start: int | None = Field(None, ge=0, le=MAX_ID, description="add: the selection's first character in the document's text "
                              "(with end; it must overlap the segment; default: the whole segment)")
    end: int | None = Field(None, ge=1, le=MAX_ID, description="add: the selection's end offset (exclusive)")


class DecisionRead(Read):
    id: int
    project_id: int
    segment_id: int
    coder_id: int
    verdict: str
    code: str
    new_code: str | None
    effects: dict[str, bool] = Field(description="what the entry did to the coder's coding of the segment")
    codebook_id: int
    suggestion_id: int | None
    suggested_score: float | None
    suggested_model: str | None
    undoes_id: int | None
    memo: str | None
    span_start: int | None = Field(description="the selection coded, when not the whole segment")
    span_end: int | None
    client_key: str | None
    created_at: datetime


class BulkDecisions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[DecisionCreate] = Field(min_length=1, max_length=1000)


class BulkItem(BaseModel):
    index: int
    status: int = Field(description="201 stored, 200 already stored (same client_key), 4xx refused")
    decision: DecisionRead | None = None
    error: str | None = None
    detail: str | None = None


class BulkResult(BaseModel):
    stored: int
    failed: int
    items: list[BulkItem]


class EstimateRead(BaseModel):
    """One coefficient with its interval and the n behind it (eval.intervals.Estimate)."""

    metric: str
    value: float | None = Field(description="null when undefined; `note` says why")
    ci_low: float | None
    ci_high: float | None
    n_units: int = Field(description="units (segments, or segment x code when pooled) with at least one coding")
    n_pairable: int = Field(description="units coded by two or more of the compared coders: what the value rests on")
    n_coders: int
    n_values: int = Field(description="codings in the pairable units")
    n_minority: int = Field(description="of n_values, those outside the most frequent category (for a code: the rarer of present/absent)")
    small_n: bool = Field(description="n_pairable below small_n_rule.min_units, or n_minority below small_n_rule.min_minority: read the value with care")
    small_n_reason: str | None
    interval_method: str | None = Field(description="'percentile bootstrap', the small-n method (analytic or Wilson, the wider), or null: no interval")
    note: str | None


class SmallNRule(BaseModel):
    min_units: int = Field(description="fewer pairable units than this flags a value small_n")
    min_minority: int = Field(description="fewer pairable values outside the most frequent category than this flags it too")


class AgreementRead(BaseModel):
    units: int = Field(description="segments with at least one decision")
    units_coded_by_two_or_more: int = Field(description="segments the between-coder figures rest on")
    coders: list[str]
    codes: list[str]
    codebook_version: int
    metrics: list[str]
    weights: str | None = Field(description="agreement weights (linear, quadratic) or null; on present/absent data they equal the unweighted values")
    weight_distance: str = Field(description="index (ordered categories, as R irr and scikit-learn) or value")
    small_n_rule: SmallNRule
    between_coders: dict[str, dict[str, EstimateRead]] = Field(description="{code: {metric: estimate}} between the human coders")
    model_vs_coder: dict[str, dict[str, dict[str, EstimateRead]]] = Field(description="{coder: {code: {metric: estimate}}}")
    notes: list[str]


class CodeProgress(BaseModel):
    code: str
    suggested: int = Field(description="suggestions of the code under the current codebook")
    decided: int = Field(description="of them, decided by the caller (their latest verdict; an undo reopens one)")
    remaining: int
    accepted: int
    rejected: int
    replaced: int


class ProgressRead(BaseModel):
    coder: str
    codebook_version: int
    decided: int
    remaining: int
    agreement_with_model: float | None = Field(description="share of the caller's decided suggestions they accepted (null before any)")
    codes: list[CodeProgress]


class CodingSpan(BaseModel):
    segment_id: int
    start: int = Field(description="character offset into the document's text (inclusive)")
    end: int = Field(description="character offset into the document's text (exclusive)")
    code: str
    coder: str | None
    decision_id: int = Field(description="the ledger entry that applied the code to this span")
    memo: str | None = Field(None, description="that entry's memo")


class ErrorRead(BaseModel):
    error: str = Field(description="snake_case kind, e.g. segment_not_found")
    detail: str
    fields: list[dict[str, str]] | None = None


Format = Literal["csv", "jsonl", "parquet"]
