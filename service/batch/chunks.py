"""Chunk coding, the step both batch engines share: embed a chunk of segments and propose codes.

A chunk is `chunk_size` consecutive segments; chunk k holds index ids [k * chunk_size, ...). The
single-machine engine and the Ray engine call the same `code_chunk` on the same chunks with the
same model, so they write the same suggestions. Where a chunk's records go is the sink's business
(service.batch.sinks).

`prepare_chunk` is the part that needs no model output (the embedder's tokenising, where the
embedder offers `prepare`): the batch loop runs it on its read-ahead thread, so it overlaps the
encoding of the chunk before (service.batch.overlap).

Invariants: `code_chunk` returns one segment record and one embedding row per segment, in order;
segments that are not data (Segment.role) or belong to a skipped speaker are kept (and embedded)
but get no suggestions; a prepared chunk codes exactly as an unprepared one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.base import CodeProposal, Embedder, Encoded, Segment, Span
from models.classifiers.zero_shot import ZeroShotClassifier
from models.codebook import Codebook
from service.batch.records import segment_record, suggestion_record


@dataclass
class CodedChunk:
    """One chunk's records and embeddings, ready for a sink."""

    segments: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    vectors: np.ndarray  # float32 (len(segments), dim)
    encode_s: float = 0.0  # seconds in the encoder (tokenising included unless the chunk came prepared)
    propose_s: float = 0.0  # seconds scoring and proposing codes


def prepare_chunk(chunk: Sequence[Segment], embedder: Embedder) -> Any | None:
    """The chunk tokenised ahead for `code_chunk(..., prepared=)`, or None where the embedder
    has no `prepare` step (it then tokenises as it encodes)."""
    prepare = getattr(embedder, "prepare", None)
    if prepare is None or not chunk:
        return None
    return prepare([s.text for s in chunk], [s.sentences for s in chunk])


def code_chunk(
    chunk: Sequence[Segment],
    first_index: int,
    *,
    embedder: Embedder,
    classifier: ZeroShotClassifier,
    codebook: Codebook,
    skip_speakers: set[str],
    provenance: dict[str, Any],
    prepared: Any | None = None,
) -> CodedChunk:
    """Embed and propose codes for one chunk; segments of skipped speakers are kept but get none.
    prepared: `prepare_chunk(chunk, embedder)`, done ahead (optional)."""
    texts, sentences = [s.text for s in chunk], [s.sentences for s in chunk]
    t0 = time.perf_counter()
    if prepared is None:
        encoded = embedder.encode_segments(texts, sentences)
    else:
        encoded = embedder.encode_segments(texts, sentences, prepared=prepared)  # type: ignore[call-arg]  # an embedder with prepare() takes it
    # Only data is coded: header lines and interviewer turns (Segment.role), and turns of a skipped
    # speaker, stay in the output as context with no proposals.
    t1 = time.perf_counter()
    keep = [k for k, s in enumerate(chunk) if s.codable and (s.speaker is None or s.speaker.lower() not in skip_speakers)]
    proposals: list[list[CodeProposal]] = [[] for _ in chunk]
    if keep:
        sub = Encoded(encoded.vectors[keep], [encoded.sentence_vectors[k] for k in keep])
        for k, props in zip(keep, classifier.propose([chunk[k] for k in keep], sub), strict=True):
            proposals[k] = props
    t2 = time.perf_counter()
    kept = set(keep)
    segs: list[dict[str, Any]] = []
    sugs: list[dict[str, Any]] = []
    for k, seg in enumerate(chunk):
        segs.append(segment_record(seg, first_index + k, coded=k in kept))
        sugs.extend(suggestion_record(seg, first_index + k, p, codebook, provenance) for p in proposals[k])
    return CodedChunk(segs, sugs, np.ascontiguousarray(encoded.vectors, dtype=np.float32), encode_s=t1 - t0, propose_s=t2 - t1)


def segment_from_record(rec: dict[str, Any]) -> Segment:
    return Segment(
        id=rec["id"], document_id=rec["document"], ordinal=int(rec["ordinal"]), start=int(rec["start"]),
        end=int(rec["end"]), text=rec["text"], speaker=rec["speaker"],
        sentences=tuple(Span(int(a), int(b)) for a, b in rec["sentences"]), role=rec.get("role", "data"),
        page=rec.get("page"), start_s=rec.get("start_s"), end_s=rec.get("end_s"),
    )
