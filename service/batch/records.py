"""Records and files written by batch coding: JSONL lines, the flat CSV, and the summary."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.artifacts import atomic_write_text
from models.base import CodeProposal, Segment
from models.codebook import Codebook

if TYPE_CHECKING:
    from service.batch.run import BatchResult

CSV_COLUMNS = [
    "segment_id", "document", "start", "end", "speaker", "text", "code", "code_name", "score",
    "evidence_sentence", "evidence_start", "evidence_end", "evidence_matched", "evidence_kind",
]


def segment_record(seg: Segment, index_id: int, *, coded: bool) -> dict[str, Any]:
    return {
        "index_id": index_id,
        "id": seg.id,
        "document": seg.document_id,
        "ordinal": seg.ordinal,
        "start": seg.start,
        "end": seg.end,
        "speaker": seg.speaker,
        "text": seg.text,
        "sentences": [[s.start, s.end] for s in seg.sentences],
        "coded": coded,
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


def iter_jsonl(path: Path):  # type: ignore[no-untyped-def]
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


def write_summary(out: Path, result: "BatchResult", codebook: Codebook, provenance: dict[str, Any],
                  counts: dict[str, list[Any]] | None = None) -> dict[str, dict[str, float]]:
    """Per-code counts (segments, documents, mean score) into summary.json; returns them by code.

    counts: code -> [segments, set of documents, score sum] when already counted (Parquet runs);
    otherwise they are counted from suggestions.jsonl."""
    segs: dict[str, int] = defaultdict(int)
    docs: dict[str, set[str]] = defaultdict(set)
    score_sum: dict[str, float] = defaultdict(float)
    if counts is None:
        for rec in iter_jsonl(out / "suggestions.jsonl"):
            segs[rec["code"]] += 1
            docs[rec["code"]].add(rec["document"])
            score_sum[rec["code"]] += rec["score"]
    else:
        for code, (n, ds, total) in counts.items():
            segs[code], docs[code], score_sum[code] = n, ds, total
    counts = {
        code: {"name": codebook[code].name, "segments": segs[code], "documents": len(docs[code]),
               "mean_score": round(score_sum[code] / segs[code], 4)}
        for code in sorted(segs, key=lambda c: (-segs[c], c))
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
        "codes": counts,
        **provenance,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    return counts
