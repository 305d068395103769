"""What batch coding records: one dict per document, segment and suggestion, the flat CSV, the
per-code tally, and the run's result and summary.json.

Invariants: a record is plain JSON-able data (the JSONL line, and the Parquet row before
flattening); a segment's `index_id` is its row in the embeddings and its faiss id; every suggestion
carries the run's provenance (model, codebook). The summary's codes are ordered by segments
(descending), then code. This module imports nothing else of the batch package.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.artifacts import atomic_write_text
from models.base import CodeProposal, Document, Segment
from models.codebook import Codebook

# code -> [segments, set of documents, score sum], counted over the suggestions
CodeCounts = dict[str, list[Any]]

CSV_COLUMNS = [
    "segment_id", "document", "start", "end", "speaker", "text", "code", "code_name", "score",
    "evidence_sentence", "evidence_start", "evidence_end", "evidence_matched", "evidence_kind",
]


@dataclass
class BatchResult:
    """What a run did: the counts summary.json reports, and the per-code counts."""

    out_dir: Path
    documents: int
    segments: int
    suggestions: int
    encoded: int  # segments actually run through the encoder (cache misses)
    cache_hits: int
    resumed_from: int
    seconds: float
    skipped: list[dict[str, str]] = field(default_factory=list)
    code_counts: dict[str, dict[str, float]] = field(default_factory=dict)
    engine: str = "local"
    output_format: str = "jsonl"
    timings: dict[str, float] = field(default_factory=dict)  # seconds by phase (summary.json "timings_s")

    @property
    def segments_per_second(self) -> float:
        return self.segments / self.seconds if self.seconds else 0.0


def document_record(d: Document) -> dict[str, Any]:
    return {"id": d.id, "source": d.source, "format": d.format, "is_transcript": d.is_transcript,
            "metadata": d.metadata, "text": d.text}


def segment_record(seg: Segment, index_id: int, *, coded: bool) -> dict[str, Any]:
    return {
        "index_id": index_id,
        "id": seg.id,
        "document": seg.document_id,
        "ordinal": seg.ordinal,
        "start": seg.start,
        "end": seg.end,
        "speaker": seg.speaker,
        "role": seg.role,
        "text": seg.text,
        "sentences": [[s.start, s.end] for s in seg.sentences],
        "coded": coded,
        "page": seg.page,  # .pdf: the page it starts on
        "start_s": seg.start_s,  # .vtt/.srt: the caption times it covers
        "end_s": seg.end_s,
    }


def suggestion_record(
    seg: Segment, index_id: int, prop: CodeProposal, codebook: Codebook, provenance: dict[str, Any]
) -> dict[str, Any]:
    ev = prop.evidence
    return {
        "segment_id": seg.id,
        "index_id": index_id,
        "document": seg.document_id,
        "start": seg.start,
        "end": seg.end,
        "speaker": seg.speaker,
        "text": seg.text,
        "code": prop.code,
        "code_name": codebook[prop.code].name,
        "score": prop.score,
        "evidence": {
            "sentence": ev.sentence,
            "start": ev.start,
            "end": ev.end,
            "matched": ev.matched,
            "matched_kind": ev.matched_kind,
            "similarity": ev.similarity,
        },
        **provenance,
    }


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def write_suggestions_csv(jsonl: Path, out: Path) -> int:
    """Flatten suggestions.jsonl into CSV (UTF-8 with BOM so spreadsheet programs read it); returns rows."""
    n = 0
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for rec in iter_jsonl(jsonl):
            ev = rec["evidence"]
            writer.writerow({
                **{k: rec[k] for k in ("segment_id", "document", "start", "end", "speaker", "text", "code", "code_name", "score")},
                "evidence_sentence": ev["sentence"],
                "evidence_start": ev["start"],
                "evidence_end": ev["end"],
                "evidence_matched": ev["matched"],
                "evidence_kind": ev["matched_kind"],
            })
            n += 1
    tmp.replace(out)
    return n


def count_codes(rows: Iterable[tuple[str, str, float]]) -> tuple[CodeCounts, int]:
    """(code -> [segments, set of documents, score sum], suggestions) over (code, document, score) rows."""
    counts: CodeCounts = {}
    total = 0
    for code, doc, score in rows:
        c = counts.setdefault(code, [0, set(), 0.0])
        c[0] += 1
        c[1].add(doc)
        c[2] += score
        total += 1
    return counts, total


def write_summary(out: Path, result: BatchResult, codebook: Codebook, provenance: dict[str, Any],
                  counts: CodeCounts) -> dict[str, dict[str, float]]:
    """Per-code counts (segments, documents, mean score) into summary.json; returns them by code."""
    by_code = {
        code: {"name": codebook[code].name, "segments": n, "documents": len(docs),
               "mean_score": round(score_sum / n, 4)}
        for code, (n, docs, score_sum) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    }
    summary = {
        "documents": result.documents,
        "segments": result.segments,
        "suggestions": result.suggestions,
        "encoded": result.encoded,
        "cache_hits": result.cache_hits,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 3),
        "segments_per_second": round(result.segments_per_second, 2),
        "engine": result.engine,
        "format": result.output_format,
        "skipped_files": result.skipped,
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "codes": by_code,
        **provenance,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    return by_code
