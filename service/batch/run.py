"""Batch coding: ingest -> segment -> embed -> propose -> index, streamed and resumable by chunk.

The inputs are read twice, lazily: a scan (bad files, totals for progress and ETA, the corpus
fingerprint), then the coding pass, chunk by chunk. Nothing grows with the corpus but the faiss
index itself (and, for the summary, the set of documents per code). The scan keeps the first
`scan_keep` segments (8,192 by default) with their documents, so the coding pass neither reads nor
segments those again: a corpus that small is segmented once.

Each coded chunk goes to the run's sink (service.batch.sinks), chosen once from `output_format`:
JSONL files appended with a checkpoint per chunk (the default), or Parquet files per chunk (the
layout the Ray engine writes too). Every run folder also holds:
    index/             the faiss index and its manifest
    run.json           what was run and how far it got (the checkpoint)
    summary.json       counts and timings

The loop overlaps its three stages (service.batch.overlap): a read-ahead thread reads, segments
and tokenises the next chunks while the current one encodes, and a write-behind thread writes each
coded chunk (and reports progress) while the next one encodes. Chunks are still coded and written
one at a time, in order. The threads need a core the encoder does not use: by default
(`overlap=None`) they run when the encoder is on a GPU or leaves a CPU core free (torch threads
< CPU count); on 2 cores with 2 encoder threads, measured, they only competed with it
(docs/benchmarks.md). `overlap=True`/`False` forces either way.

Invariants: run.json's key covers everything that changes the outputs (corpus, codebook, model,
settings, format); a folder holding another key is never written to without --overwrite. A
resumed run skips the chunks its sink holds already, so the outputs equal an uninterrupted run's.
Overlap changes no output byte. The index and summary are written only once every chunk is.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from models.base import Document, Embedder, Segment
from models.classifiers.zero_shot import ZeroShotClassifier
from models.codebook import Codebook
from models.index.faiss_index import FaissIndex
from models.text.segment import SegmentationConfig
from service.batch.chunks import CodedChunk, code_chunk, prepare_chunk
from service.batch.inputs import ReadOptions, Scan, scan_inputs, stream_corpus
from service.batch.overlap import WriteBehind, prefetched
from service.batch.records import BatchResult, write_summary
from service.batch.sinks import RUN_FILE, SINKS, Checkpoint, ChunkSink, JsonlSink, RunConflict, sink_for

__all__ = ["BatchOptions", "BatchResult", "Run", "RunConflict", "finish_run", "prepare_run", "run_batch"]

OutputFormat = Literal["jsonl", "parquet"]

# progress(done, total): segments processed so far out of total
Progress = Callable[[int, int], None]


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
    overlap: bool | None = None  # read ahead and write behind on two threads; None: where a core is free (no effect on the outputs)
    read_ahead: int = 2  # chunks read and tokenised ahead of the one encoding
    scan_keep: int = 8192  # segments the scan keeps for the coding pass, which then does not segment them again (memory bound)


@dataclass
class Run:
    """A prepared run: the scan, the checkpoint state, and what every chunk is coded with."""

    opts: BatchOptions
    scan: Scan
    checkpoint: Checkpoint
    sink: ChunkSink
    provenance: dict[str, Any]
    count_tokens: Callable[[str], int]
    started: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds by phase, into summary.json

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


def _run_key(opts: BatchOptions, scan: Scan, codebook: Codebook, model: str, threshold: float) -> str:
    blob = json.dumps(
        {
            "corpus": scan.fingerprint,
            "codebook": codebook.scoring_fingerprint,  # with the not-coded list in effect
            "model": model,
            "segmentation": asdict(opts.segmentation),
            "read": asdict(opts.read),
            "limit": opts.limit,
            "threshold": threshold,
            "skip_speakers": sorted(opts.skip_speakers),
            "format": opts.output_format,
            "chunk_size": opts.chunk_size if SINKS[opts.output_format].chunked else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


PARTS = {"inputs": "inputs (the files, how they are read, or --limit)",
         "codebook": "codebook (or the not-coded list in effect: a new Loupe may ship another)", "model": "model",
         "settings": "settings (segmentation, threshold, skipped speakers, format or chunk size)"}


def _run_parts(opts: BatchOptions, scan: Scan, codebook: Codebook, model: str, threshold: float) -> dict[str, str]:
    """A fingerprint of each group of what the run key covers (PARTS), kept in run.json so that a
    conflicting re-run can say which group differs."""
    def h(value: object) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]

    return {
        "inputs": h({"corpus": scan.fingerprint, "read": asdict(opts.read), "limit": opts.limit}),
        "codebook": h(codebook.scoring_fingerprint),
        "model": h(model),
        "settings": h({"segmentation": asdict(opts.segmentation), "threshold": threshold, "skip_speakers": sorted(opts.skip_speakers),
                       "format": opts.output_format, "chunk_size": opts.chunk_size if SINKS[opts.output_format].chunked else None}),
    }


def _open_run_folder(out: Path, key: str, opts: BatchOptions, parts: dict[str, str] | None = None) -> tuple[Checkpoint, ChunkSink]:
    """The checkpoint to resume from (a fresh one if none) and the sink, opened at it."""
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / RUN_FILE
    state = None
    if state_path.exists() and not opts.overwrite:
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunConflict(f"{state_path} is damaged; re-run with --overwrite to start this folder again") from None
        if state.get("key") != key:
            old = state.get("parts") or {}
            differs = [PARTS[name] for name in PARTS if parts and name in old and old[name] != parts.get(name)]
            raise RunConflict(
                f"{out} holds a run with different {' and '.join(differs) if differs else 'inputs, codebook, model or settings'}. "
                "Use another --out folder, or --overwrite to replace it."
            )
        if parts:
            state.setdefault("parts", parts)
    if state is None:
        for sink_cls in SINKS.values():  # whatever format ran here before
            sink_cls(out).clear()
        (out / "summary.json").unlink(missing_ok=True)
        # "sizes" is the JSONL sink's checkpoint; a Parquet run keeps the zeros
        state = {"key": key, "parts": parts or {}, "format": opts.output_format, "done": 0,
                 "sizes": dict.fromkeys(JsonlSink.FILES, 0), "status": "running"}
    checkpoint = Checkpoint(state_path, state)
    sink = sink_for(opts.output_format, out)
    sink.open(checkpoint)
    checkpoint.save()
    return checkpoint, sink


def prepare_run(opts: BatchOptions, *, codebook: Codebook, embedder: Embedder, threshold: float,
                classifier_name: str = "zero-shot", scan_progress: Progress | None = None) -> Run:
    """Scan the inputs and open (or resume) the run folder. Raises InputError or RunConflict.
    scan_progress(documents, segments) reports the scan as it goes."""
    started = time.perf_counter()
    scan = scan_inputs(list(opts.inputs), read=opts.read, segmentation=opts.segmentation,
                       count_tokens=embedder.count_tokens, limit=opts.limit, progress=scan_progress,
                       keep_segments=opts.scan_keep)
    scanned = time.perf_counter() - started
    model = getattr(embedder, "fingerprint", embedder.model_id)
    checkpoint, sink = _open_run_folder(Path(opts.out_dir), _run_key(opts, scan, codebook, model, threshold), opts,
                                        _run_parts(opts, scan, codebook, model, threshold))
    provenance = {
        "model": f"{classifier_name}/{embedder.model_id}",
        "codebook": {"name": codebook.name, "version": codebook.version, "fingerprint": codebook.fingerprint},
    }
    return Run(opts, scan, checkpoint, sink, provenance, embedder.count_tokens, started, {"scan": scanned, "encode": 0.0, "propose": 0.0})


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
    total, size = run.scan.segments, opts.chunk_size
    skip = {s.lower() for s in opts.skip_speakers}
    stats0 = dict(getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0}))
    sink = run.sink
    resumed_from = sink.segments_done(run.n_chunks, size, total)
    done = [resumed_from]
    if progress:
        progress(resumed_from, total)

    def read_ahead() -> Iterator[tuple[int, list[Document], list[Segment], Any, bool]]:
        """(k, documents, segments, the chunk tokenised ahead, written already) on the read-ahead thread."""
        for k, docs, chunk in run.chunks():
            # a chunk of documents with no segments (only ever the last) is decided in the loop,
            # once the chunks before it are written, as the inline loop decides it
            written = bool(chunk) and sink.has_chunk(k, k * size, len(chunk))
            yield k, docs, chunk, None if written else prepare_chunk(chunk, embedder), written

    def write(k: int, docs: list[Document], coded: CodedChunk | None) -> None:
        sink.write_chunk(k, docs, coded)
        if coded is not None:
            done[0] += len(coded.segments)
            if progress:
                progress(done[0], total)

    overlap = spare_core(embedder) if opts.overlap is None else opts.overlap
    with WriteBehind(enabled=overlap) as writer, \
            closing(prefetched(read_ahead(), opts.read_ahead if overlap else 0)) as chunks:
        for k, docs, chunk, prepared, written in chunks:
            if not chunk:
                writer.wait()
                written = sink.has_chunk(k, k * size, 0)
            if written:
                continue
            coded = code_chunk(chunk, k * size, embedder=embedder, classifier=classifier, codebook=codebook,
                               skip_speakers=skip, provenance=run.provenance, prepared=prepared) if chunk else None
            if coded is not None:
                run.timings["encode"] += coded.encode_s  # both start at 0 in prepare_run
                run.timings["propose"] += coded.propose_s
            writer.submit(partial(write, k, docs, coded))
    stats1 = getattr(embedder, "stats", {"encoded": 0, "cache_hits": 0})
    return finish_run(run, dim=embedder.dim, model=getattr(embedder, "fingerprint", embedder.model_id),
                      codebook=codebook, resumed_from=resumed_from,
                      encoded=stats1["encoded"] - stats0["encoded"], cache_hits=stats1["cache_hits"] - stats0["cache_hits"])


def spare_core(embedder: Embedder) -> bool:
    """Whether the overlap threads would have a core to themselves: the encoder runs on a GPU, or
    its torch threads leave at least one CPU core free."""
    if str(getattr(embedder, "device", "cpu")).startswith("cuda"):
        return True
    import torch

    return torch.get_num_threads() < (os.cpu_count() or 1)


def finish_run(run: Run, *, dim: int, model: str, codebook: Codebook, resumed_from: int, encoded: int,
               cache_hits: int, engine: str = "local") -> BatchResult:
    """Check every chunk is written, then build the index, the sink's own files (JSONL: the CSV) and the summary.

    The summary's `timings_s` splits the wall time of this process: scan (reading and segmenting
    the inputs once, to count them), encode (the encoder, with the embedding cache's lookups and
    writes; tokenising too where the embedder has no `prepare` step) and propose (scoring and
    proposals) in the local engine's coding loop (0 on a Ray run, whose workers are not timed),
    finish_outputs (the sink's last files), index_build, index_save, and other: the rest (reading,
    segmenting, tokenising and writing chunks where no thread overlaps them with the encoder, and
    waits)."""
    out, n = run.out, run.scan.segments
    t0 = time.perf_counter()
    counts, n_suggestions = run.sink.finish(run.n_chunks)
    t1 = time.perf_counter()
    index = FaissIndex.build(lambda: run.sink.vector_blocks(n, dim, run.n_chunks), n=n, dim=dim, model=model,
                             ann_threshold=run.opts.ann_threshold)
    t2 = time.perf_counter()
    index.save(out / "index")
    t3 = time.perf_counter()
    seconds = t3 - run.started
    timings = {**run.timings, "finish_outputs": t1 - t0, "index_build": t2 - t1, "index_save": t3 - t2}
    timings["other"] = max(0.0, seconds - sum(timings.values()))
    result = BatchResult(
        out_dir=out, documents=run.scan.documents, segments=n, suggestions=n_suggestions, encoded=encoded,
        cache_hits=cache_hits, resumed_from=resumed_from, seconds=seconds,
        skipped=[{"path": s.path, "reason": s.reason} for s in run.scan.skipped], engine=engine,
        output_format=run.opts.output_format, timings=timings,
    )
    result.code_counts = write_summary(out, result, codebook, run.provenance, counts)
    run.checkpoint.state.update(status="complete", done=n)
    run.checkpoint.save()
    return result
