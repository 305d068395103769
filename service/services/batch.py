"""Batch coding: ingest -> segment -> embed -> propose -> index, resumable at chunk granularity.

Outputs in the run folder:
    documents.jsonl    every document's stored text (offsets refer to it)
    segments.jsonl     one line per segment (index_id = line number = faiss id)
    suggestions.jsonl  one line per proposed code, with score and evidence
    suggestions.csv    the same, flat, for spreadsheets and QDA imports
    embeddings.f32     float32 (n_segments, dim) row-major, row i = index_id i
    index/             the faiss index and its manifest
    run.json           what was run and how far it got (the checkpoint)
    summary.json       counts and timings

Checkpointing: after each chunk the appended files are fsynced, then run.json records their byte
sizes atomically. A run killed at any point resumes from the last checkpoint: files are truncated
to the recorded sizes, so nothing is written twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from models.artifacts import atomic_write_text
from models.base import CodeProposal, Embedder, Encoded, LoupeError, Segment
from models.classifiers.zero_shot import ZeroShotClassifier
from models.codebook import Codebook
from models.index.faiss_index import FaissIndex
from models.text.segment import SegmentationConfig
from service.services.ingest import Corpus, ReadOptions, load_corpus
from service.services.outputs import (
    segment_record,
    suggestion_record,
    write_suggestions_csv,
    write_summary,
)

APPENDED = ("segments.jsonl", "suggestions.jsonl", "embeddings.f32")
RUN_FILE = "run.json"

# progress(done, total): segments processed so far out of total
Progress = Callable[[int, int], None]


class RunConflict(LoupeError):
    """The output folder holds a different run."""


@dataclass(frozen=True)
class BatchOptions:
    inputs: Sequence[Path]
    out_dir: Path
    read: ReadOptions = ReadOptions()
    segmentation: SegmentationConfig = SegmentationConfig()
    chunk_size: int = 1024
    limit: int | None = None  # code only the first N segments
    overwrite: bool = False
    skip_speakers: Sequence[str] = ()
    ann_threshold: int = 50_000


@dataclass
class BatchResult:
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

    @property
    def segments_per_second(self) -> float:
        return self.segments / self.seconds if self.seconds else 0.0


def _fsync_append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _run_key(opts: BatchOptions, corpus: Corpus, codebook: Codebook, model: str, threshold: float) -> str:
    blob = json.dumps(
        {
            "corpus": corpus.fingerprint,
            "codebook": codebook.fingerprint,
            "model": model,
            "segmentation": asdict(opts.segmentation),
            "read": asdict(opts.read),
            "limit": opts.limit,
            "threshold": threshold,
            "skip_speakers": sorted(opts.skip_speakers),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _prepare_out_dir(out: Path, key: str, overwrite: bool) -> dict:
    """Return the checkpoint to resume from (a fresh one if none), truncating partial writes."""
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / RUN_FILE
    state = None
    if state_path.exists() and not overwrite:
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunConflict(f"{state_path} is damaged; re-run with --overwrite to start this folder again") from None
        if state.get("key") != key:
            raise RunConflict(
                f"{out} holds a run with different inputs, codebook, model or settings. "
                "Use another --out folder, or --overwrite to replace it."
            )
    if state is None:
        for name in (*APPENDED, "suggestions.csv", "summary.json", "documents.jsonl"):
            (out / name).unlink(missing_ok=True)
        state = {"key": key, "done": 0, "sizes": {name: 0 for name in APPENDED}, "status": "running"}
    for name in APPENDED:
        path = out / name
        size = state["sizes"][name]
        if not path.exists():
            if size:
                raise RunConflict(f"{path} is missing; re-run with --overwrite")
            path.touch()
        elif path.stat().st_size != size:
            with open(path, "r+b") as f:  # drop whatever was written after the last checkpoint
                f.truncate(size)
    return state


def run_batch(
    opts: BatchOptions,
    *,
    codebook: Codebook,
    embedder: Embedder,
    classifier: ZeroShotClassifier,
    progress: Progress | None = None,
) -> BatchResult:
    """Code every segment of the inputs; resumes a previous run in opts.out_dir. See module docstring."""
    started = time.perf_counter()
    out = Path(opts.out_dir)
    corpus = load_corpus(
        list(opts.inputs), read=opts.read, segmentation=opts.segmentation, count_tokens=embedder.count_tokens,
        limit=opts.limit,
    )
    segments = corpus.segments
    threshold = classifier.config.threshold
    key = _run_key(opts, corpus, codebook, getattr(embedder, "fingerprint", embedder.model_id), threshold)
    state = _prepare_out_dir(out, key, opts.overwrite)
    resumed_from = int(state["done"])

    docs_path = out / "documents.jsonl"
    if not docs_path.exists():
        lines = [
            json.dumps({"id": d.id, "source": d.source, "format": d.format, "is_transcript": d.is_transcript,
                        "metadata": d.metadata, "text": d.text}, ensure_ascii=False)
            for d in corpus.documents
        ]
        atomic_write_text(docs_path, "\n".join(lines) + "\n")

    skip = {s.lower() for s in opts.skip_speakers}
    provenance = {
        "model": f"{classifier.name}/{embedder.model_id}",
        "codebook": {"name": codebook.name, "version": codebook.version, "fingerprint": codebook.fingerprint},
    }
    stats0 = dict(getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0}))
    total = len(segments)
    if progress:
        progress(resumed_from, total)
    for lo in range(resumed_from, total, opts.chunk_size):
        chunk = segments[lo: lo + opts.chunk_size]
        encoded = embedder.encode_segments([s.text for s in chunk], [s.sentences for s in chunk])
        proposals = _propose(classifier, chunk, encoded, skip)
        seg_lines, sug_lines = [], []
        for k, seg in enumerate(chunk):
            index_id = lo + k
            seg_lines.append(json.dumps(segment_record(seg, index_id, coded=seg.speaker is None or seg.speaker.lower() not in skip), ensure_ascii=False))
            for prop in proposals[k]:
                sug_lines.append(json.dumps(suggestion_record(seg, index_id, prop, codebook, provenance), ensure_ascii=False))
        _fsync_append(out / "segments.jsonl", ("\n".join(seg_lines) + "\n").encode())
        if sug_lines:
            _fsync_append(out / "suggestions.jsonl", ("\n".join(sug_lines) + "\n").encode())
        _fsync_append(out / "embeddings.f32", np.ascontiguousarray(encoded.vectors, dtype=np.float32).tobytes())
        state["done"] = lo + len(chunk)
        state["sizes"] = {name: (out / name).stat().st_size for name in APPENDED}
        atomic_write_text(out / RUN_FILE, json.dumps(state, indent=2))
        if progress:
            progress(state["done"], total)

    _build_index(out, embedder, total, opts.ann_threshold)
    n_suggestions = write_suggestions_csv(out / "suggestions.jsonl", out / "suggestions.csv")
    stats1 = getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0})
    result = BatchResult(
        out_dir=out,
        documents=len(corpus.documents),
        segments=total,
        suggestions=n_suggestions,
        encoded=stats1["encoded"] - stats0["encoded"],
        cache_hits=stats1["cache_hits"] - stats0["cache_hits"],
        resumed_from=resumed_from,
        seconds=time.perf_counter() - started,
        skipped=[{"path": s.path, "reason": s.reason} for s in corpus.skipped],
    )
    result.code_counts = write_summary(out, result, codebook, provenance)
    state["status"] = "complete"
    atomic_write_text(out / RUN_FILE, json.dumps(state, indent=2))
    return result


def _propose(classifier: ZeroShotClassifier, chunk: list[Segment], encoded: Encoded, skip: set[str]) -> list[list[CodeProposal]]:
    """Proposals for each segment of the chunk; segments of skipped speakers get none."""
    keep = [k for k, s in enumerate(chunk) if s.speaker is None or s.speaker.lower() not in skip]
    out: list[list[CodeProposal]] = [[] for _ in chunk]
    if keep:
        sub = Encoded(encoded.vectors[keep], [encoded.sentence_vectors[k] for k in keep])
        for k, props in zip(keep, classifier.propose([chunk[k] for k in keep], sub)):
            out[k] = props
    return out


def _build_index(out: Path, embedder: Embedder, n: int, ann_threshold: int) -> None:
    vectors = np.fromfile(out / "embeddings.f32", dtype=np.float32).reshape(n, embedder.dim) if n else np.zeros((0, embedder.dim), np.float32)
    index = FaissIndex(embedder.dim, model=getattr(embedder, "fingerprint", embedder.model_id), ann_threshold=ann_threshold)
    for lo in range(0, n, 100_000):
        index.add(np.arange(lo, min(n, lo + 100_000)), vectors[lo: lo + 100_000])
    index.save(out / "index")
