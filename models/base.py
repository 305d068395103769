"""Core types of the inference layer: documents, segments, proposals, and the backend Protocols.

Everything here is plain data or a structural interface; no web, no database.
Array contracts are stated where an array crosses an interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np


class LoupeError(Exception):
    """Base of every error Loupe raises on purpose; the message is meant for the user."""


@dataclass(frozen=True)
class Anchor:
    """Where the stretch [start, end) of a document's text came from in its source file: the page
    of a PDF (1-based), the times of a caption cue (seconds), the speaker column of a table row, or
    the part of a .docx ("table" for a table row, "comment" for a reviewer's comment)."""

    start: int
    end: int
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None
    part: str | None = None


@dataclass(frozen=True)
class Document:
    """One source text, stored unchanged.

    `id` is stable across runs (derived from the file path, or the row id for tabular input).
    `anchors`: where stretches of the text came from (see Anchor), sorted by start, not overlapping;
    empty for plain text.
    """

    id: str
    text: str
    source: str  # the file it came from
    format: str  # txt, md, docx, pdf, vtt, srt, csv, jsonl
    is_transcript: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    anchors: tuple[Anchor, ...] = ()


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into a text."""

    start: int
    end: int


# What a segment is, as data: see models.text.roles for how the segmenter decides.
Role = Literal["data", "metadata", "interviewer"]
ROLES: tuple[Role, ...] = ("data", "metadata", "interviewer")


@dataclass(frozen=True)
class Segment:
    """A unit of coding: a contiguous slice of a document.

    Invariant: `document.text[start:end] == text`.
    `sentences` are spans relative to `text` (not to the document).
    `page`, `start_s`, `end_s`: where it sits in the source (models.text.anchors.locate).
    `role`: "data" (what a participant wrote or said), "metadata" (a title or header line at the
    top of a document, a closing line at its end) or "interviewer" (an interviewer's turn). Every
    segment stays in the document for context; only data is coded and clustered (`codable`).
    """

    id: str
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str
    speaker: str | None = None
    sentences: tuple[Span, ...] = ()
    role: Role = "data"
    page: int | None = None  # the PDF page the segment starts on (1-based)
    start_s: float | None = None  # caption time span (.vtt/.srt): the earliest cue the segment overlaps
    end_s: float | None = None  # ... and the latest cue's end

    @property
    def codable(self) -> bool:
        """True when the segment is data: it may get proposals and join clusters."""
        return self.role == "data"


@dataclass(frozen=True)
class Evidence:
    """Why a code was proposed: the sentence of the segment that drove the score,
    and the codebook passage (definition, criterion or example) it matched best."""

    sentence: str
    start: int  # offsets into the segment's document
    end: int
    matched: str
    matched_kind: str  # "definition", "include", "example"
    similarity: float


@dataclass(frozen=True)
class CodeProposal:
    """A code proposed for a segment, with a score in [0, 1] and its evidence."""

    segment_id: str
    code: str  # the code's path id, e.g. "trust/personal"
    score: float
    evidence: Evidence


@dataclass(frozen=True)
class Encoded:
    """Embeddings for a batch of segments.

    vectors: float32 (n_segments, dim), L2-normalised; row i is segments[i].
    sentence_vectors: list of n_segments float32 arrays, each (n_sentences_i, dim), L2-normalised;
        row k of item i embeds segments[i].sentences[k], pooled from the same forward pass.
    """

    vectors: np.ndarray
    sentence_vectors: list[np.ndarray]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Returns float32 (len(texts), dim), L2-normalised; row i embeds texts[i]."""
        ...

    def encode_segments(
        self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]
    ) -> Encoded:
        """Embeds each text and each of its sentence spans (relative to the text)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in `text`, special tokens excluded."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised vectors, keyed by int64 ids."""

    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """ids: int64 (n,), unique and not yet present; vectors: float32 (n, dim)."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Removes the ids present; returns how many were removed."""
        ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns (scores float32 (n, k), ids int64 (n, k)); missing neighbours have id -1."""
        ...

    def __len__(self) -> int: ...


@runtime_checkable
class CodeClassifier(Protocol):
    """Scores segments against a codebook's codes."""

    name: str

    def propose(self, segments: Sequence[Segment], encoded: Encoded) -> list[list[CodeProposal]]:
        """Returns, for each segment, the codes proposed (possibly none), best first."""
        ...
