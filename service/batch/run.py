"""Batch coding: ingest -> segment -> embed -> propose -> index, streamed and resumable by chunk.

The inputs are read twice, lazily: a scan (bad files, totals for progress and ETA, the corpus
fingerprint), then the coding pass, chunk by chunk. Nothing grows with the corpus but the faiss
index itself (and, for the summary, the set of documents per code).

Outputs in the run folder, `--format jsonl` (the default):
    documents.jsonl    every document's stored text (offsets refer to it)
    segments.jsonl     one line per segment (index_id = line number = faiss id)
    suggestions.jsonl  one line per proposed code, with score and evidence
    suggestions.csv    the same, flat, for spreadsheets and QDA imports
    embeddings.f32     float32 (n_segments, dim) row-major, row i = index_id i
`--format parquet` writes one file per chunk instead (see service.batch.chunks), the
layout the Ray engine writes too. Both add:
    index/             the faiss index and its manifest
    run.json           what was run and how far it got (the checkpoint)
    summary.json       counts and timings

Checkpointing (jsonl): after each chunk the appended files are fsynced, then run.json records their
byte sizes atomically. A run killed at any point resumes from the last checkpoint: files are
truncated to the recorded sizes, so nothing is written twice. (parquet: a chunk is done when its
segments file exists; every file is renamed into place whole.)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

from models.artifacts import atomic_write_text
from models.base import Document, Embedder, LoupeError, Segment
from models.classifiers.zero_shot import ZeroShotClassifier
from models.codebook import Codebook
from models.text.segment import SegmentationConfig
from service.batch import chunks as parts
from service.batch.inputs import ReadOptions, Scan, scan_inputs, stream_corpus
from service.batch.records import write_suggestions_csv, write_summary

APPENDED = ("documents.jsonl", "segments.jsonl", "suggestions.jsonl", "embeddings.f32")
RUN_FILE = "run.json"
OutputFormat = Literal["jsonl", "parquet"]

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
    output_format: OutputFormat = "jsonl"


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
    engine: str = "local"
    output_format: str = "jsonl"

    @property
    def segments_per_second(self) -> float:
        return self.segments / self.seconds if self.seconds else 0.0


@dataclass
class Run:
    """A prepared run: the scan, the checkpoint state, and what every chunk is coded with."""

    opts: BatchOptions
    scan: Scan
    state: dict[str, Any]
    provenance: dict[str, Any]
    count_tokens: Callable[[str], int]
    started: float

    @property
    def out(self) -> Path:
        return Path(self.opts.out_dir)

    @property
    def n_chunks(self) -> int:
        return -(-self.scan.segments // self.opts.chunk_size)

    def chunks(self) -> Iterator[tuple[int, list[Document], list[Segment]]]:
        """(k, documents first read in chunk k, the chunk's segments), streamed from the inputs."""
        o = self.opts
        docs: list[Document] = []
        segs: list[Segment] = []
        k = 0
        for doc, doc_segs in stream_corpus(self.scan, read=o.read, segmentation=o.segmentation,
                                           count_tokens=self.count_tokens, limit=o.limit):
            docs.append(doc)
            for seg in doc_segs:
                segs.append(seg)
                if len(segs) == o.chunk_size:
                    yield k, docs, segs
                    k, docs, segs = k + 1, [], []
        if segs or docs:
            yield k, docs, segs


def _fsync_append(path: Path, data: bytes) -> None:
    if not data:
        return
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _run_key(opts: BatchOptions, scan: Scan, codebook: Codebook, model: str, threshold: float) -> str:
    blob = json.dumps(
        {
            "corpus": scan.fingerprint,
            "codebook": codebook.fingerprint,
            "model": model,
            "segmentation": asdict(opts.segmentation),
            "read": asdict(opts.read),
            "limit": opts.limit,
            "threshold": threshold,
            "skip_speakers": sorted(opts.skip_speakers),
            "format": opts.output_format,
            "chunk_size": opts.chunk_size if opts.output_format == "parquet" else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _prepare_out_dir(out: Path, key: str, opts: BatchOptions) -> dict:
    """Return the checkpoint to resume from (a fresh one if none), truncating partial writes."""
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / RUN_FILE
    state = None
    if state_path.exists() and not opts.overwrite:
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
        for name in (*APPENDED, "suggestions.csv", "summary.json"):
            (out / name).unlink(missing_ok=True)
        parts.clear_parts(out)
        state = {"key": key, "format": opts.output_format, "done": 0, "sizes": {name: 0 for name in APPENDED},
                 "status": "running"}
    if opts.output_format == "jsonl":
        for name in APPENDED:
            path = out / name
            size = state["sizes"].get(name, 0)
            if not path.exists():
                if size:
                    raise RunConflict(f"{path} is missing; re-run with --overwrite")
                path.touch()
            elif path.stat().st_size != size:
                with open(path, "r+b") as f:  # drop whatever was written after the last checkpoint
                    f.truncate(size)
    atomic_write_text(state_path, json.dumps(state, indent=2))
    return state


def prepare_run(opts: BatchOptions, *, codebook: Codebook, embedder: Embedder, threshold: float,
                classifier_name: str = "zero-shot", scan_progress: Progress | None = None) -> Run:
    """Scan the inputs and open (or resume) the run folder. Raises InputError or RunConflict.
    scan_progress(documents, segments) reports the scan as it goes."""
    started = time.perf_counter()
    scan = scan_inputs(list(opts.inputs), read=opts.read, segmentation=opts.segmentation,
                       count_tokens=embedder.count_tokens, limit=opts.limit, progress=scan_progress)
    model = getattr(embedder, "fingerprint", embedder.model_id)
    state = _prepare_out_dir(Path(opts.out_dir), _run_key(opts, scan, codebook, model, threshold), opts)
    provenance = {
        "model": f"{classifier_name}/{embedder.model_id}",
        "codebook": {"name": codebook.name, "version": codebook.version, "fingerprint": codebook.fingerprint},
    }
    return Run(opts, scan, state, provenance, embedder.count_tokens, started)


def run_batch(
    opts: BatchOptions,
    *,
    codebook: Codebook,
    embedder: Embedder,
    classifier: ZeroShotClassifier,
    progress: Progress | None = None,
    scan_progress: Progress | None = None,
) -> BatchResult:
    """Code every segment of the inputs on this machine; resumes a previous run in opts.out_dir."""
    run = prepare_run(opts, codebook=codebook, embedder=embedder, threshold=classifier.config.threshold,
                      classifier_name=classifier.name, scan_progress=scan_progress)
    out, total, size = run.out, run.scan.segments, opts.chunk_size
    skip = {s.lower() for s in opts.skip_speakers}
    stats0 = dict(getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0}))
    parquet = opts.output_format == "parquet"
    resumed_from = sum(min(size, total - k * size) for k in range(run.n_chunks) if parts.chunk_done(out, k)) \
        if parquet else int(run.state["done"])
    done = resumed_from
    if progress:
        progress(done, total)
    for k, docs, chunk in run.chunks():
        if parquet:
            if chunk and parts.chunk_done(out, k):
                continue
            parts.write_documents(out, k, docs)
            if not chunk:
                continue
        elif k * size + len(chunk) <= run.state["done"]:
            continue
        coded = parts.code_chunk(chunk, k * size, embedder=embedder, classifier=classifier, codebook=codebook,
                                 skip_speakers=skip, provenance=run.provenance)
        if parquet:
            parts.write_coded_chunk(out, k, coded)
        else:
            _append_chunk(run, docs, coded)
        done += len(chunk)
        if progress:
            progress(done, total)
    stats1 = getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0})
    return finish_run(run, dim=embedder.dim, model=getattr(embedder, "fingerprint", embedder.model_id),
                      codebook=codebook, resumed_from=resumed_from,
                      encoded=stats1["encoded"] - stats0["encoded"], cache_hits=stats1["cache_hits"] - stats0["cache_hits"])


def _append_chunk(run: Run, docs: list[Document], coded: parts.CodedChunk) -> None:
    out = run.out

    def lines(records) -> bytes:  # type: ignore[no-untyped-def]
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()

    _fsync_append(out / "documents.jsonl", lines(parts.document_record(d) for d in docs))
    _fsync_append(out / "segments.jsonl", lines(coded.segments))
    _fsync_append(out / "suggestions.jsonl", lines(coded.suggestions))
    _fsync_append(out / "embeddings.f32", coded.vectors.tobytes())
    run.state["done"] += len(coded.segments)
    run.state["sizes"] = {name: (out / name).stat().st_size for name in APPENDED}
    atomic_write_text(out / RUN_FILE, json.dumps(run.state, indent=2))


def finish_run(run: Run, *, dim: int, model: str, codebook: Codebook, resumed_from: int, encoded: int,
               cache_hits: int, engine: str = "local") -> BatchResult:
    """Build the index, the CSV (jsonl) and the summary once every chunk is done."""
    out, n, fmt = run.out, run.scan.segments, run.opts.output_format
    if fmt == "parquet":
        missing = [k for k in range(run.n_chunks) if not parts.chunk_done(out, k)]
        if missing:
            raise LoupeError(f"{len(missing)} chunks are not coded yet (first: {missing[0]}); run the command again to finish them")
        blocks = lambda: parts.iter_part_vectors(out, run.n_chunks)  # noqa: E731
    else:
        blocks = lambda: parts.iter_file_vectors(out / "embeddings.f32", n, dim)  # noqa: E731
    parts.build_index(out, blocks, dim=dim, n=n, model=model, ann_threshold=run.opts.ann_threshold)
    if fmt == "parquet":
        counts, n_suggestions = parts.parquet_code_counts(out, run.n_chunks)
    else:
        n_suggestions = write_suggestions_csv(out / "suggestions.jsonl", out / "suggestions.csv")
        counts = None
    result = BatchResult(
        out_dir=out, documents=run.scan.documents, segments=n, suggestions=n_suggestions, encoded=encoded,
        cache_hits=cache_hits, resumed_from=resumed_from, seconds=time.perf_counter() - run.started,
        skipped=[{"path": s.path, "reason": s.reason} for s in run.scan.skipped], engine=engine, output_format=fmt,
    )
    result.code_counts = write_summary(out, result, codebook, run.provenance, counts=counts)
    run.state.update(status="complete", done=n)
    atomic_write_text(out / RUN_FILE, json.dumps(run.state, indent=2))
    return result
