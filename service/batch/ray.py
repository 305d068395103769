"""Batch coding on Ray Data: the same chunks, coded by a pool of model actors across a cluster.

The driver (the machine running `loupe code --engine ray`) scans and segments the inputs as the
single-machine engine does, writes each chunk still to code as `_pending/part-k.parquet`, then
runs one Ray Data pipeline over those chunks:

    from_items([chunk ids]) -> map_batches(ChunkCoder, one chunk per call, a fixed pool of actors)

Each ChunkCoder actor loads the embedding model and the classifier once, and for each chunk calls
the very `code_chunk` the single-machine engine calls, then writes the chunk's Parquet files through
the same ParquetSink (see service.batch.sinks). So the output equals the single-machine run's on
the same input and model. The driver pins the precision it resolved (fp32/bf16) for every CPU
worker, so no worker picks another. The actor class is a parameter (`coder_cls`), so a caller can
wrap the coding of a chunk (tests make a worker die with a subclass).

Failure: Ray restarts a crashed actor and retries its chunk (up to 3 times each); a chunk's files
are renamed into place whole, so a retried chunk never leaves half a file. A re-run (either
engine) skips the chunks whose files exist.

Storage: workers read `_pending/` and write the outputs in the run folder, so on a multi-node
cluster `--out` must be a path every node sees at the same place (NFS, a shared volume).

Invariants: the driver writes every chunk's documents and `_pending/` file before any worker
starts; a worker writes only its chunk's files and removes its `_pending/` file last; the run
always writes Parquet.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from models.base import LoupeError
from models.codebook import Codebook
from service.batch.chunks import code_chunk, segment_from_record
from service.batch.records import BatchResult, segment_record
from service.batch.run import BatchOptions, Progress, finish_run, prepare_run
from service.batch.sinks import ParquetSink
from service.settings import Settings


class ChunkCoder:
    """A Ray Data actor: one embedder and classifier, many chunks."""

    def __init__(self, settings: dict[str, Any], codebook: Codebook, out_dir: str, chunk_size: int,
                 skip_speakers: list[str], provenance: dict[str, Any]) -> None:
        from service.pipeline import build_classifier, build_embedder

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        cfg = Settings(**settings)
        self.embedder = build_embedder(cfg, use_cache=False)
        self.classifier = build_classifier(cfg, codebook, self.embedder)
        self.codebook, self.out, self.size = codebook, Path(out_dir), chunk_size
        self.skip, self.provenance = {s.lower() for s in skip_speakers}, provenance
        self.sink = ParquetSink(self.out)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """Code the chunks named in the batch; returns each chunk's id, segments and seconds."""
        done: dict[str, list[Any]] = {"k": [], "segments": [], "seconds": []}
        for k in (int(x) for x in batch["k"]):
            started = time.perf_counter()
            if not self.sink.chunk_done(k):  # else: a retry of a chunk finished before a crash
                self.code(k)
            self.sink.drop_pending(k)
            done["k"].append(k)
            done["segments"].append(self.sink.segments_in(k))
            done["seconds"].append(time.perf_counter() - started)
        return done

    def code(self, k: int) -> None:
        """Code chunk k from its `_pending/` file and write its Parquet files."""
        chunk = [segment_from_record(r) for r in self.sink.read_pending(k)]
        coded = code_chunk(chunk, k * self.size, embedder=self.embedder, classifier=self.classifier,
                           codebook=self.codebook, skip_speakers=self.skip, provenance=self.provenance)
        self.sink.write_coded(k, coded)


def run_batch_ray(
    opts: BatchOptions,
    *,
    codebook: Codebook,
    embedder,
    settings: Settings,
    address: str | None = None,
    workers: int = 2,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    progress: Progress | None = None,
    scan_progress: Progress | None = None,
    coder_cls: type[ChunkCoder] = ChunkCoder,
) -> BatchResult:
    """Code the inputs with a pool of `workers` Ray actors of `coder_cls`. `embedder` (on the driver)
    only counts tokens for segmentation and names the model; each actor loads its own copy."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise LoupeError('the Ray engine needs Ray Data: pip install "loupe[ray]" (or "ray[data]")') from None
    if workers < 1:
        raise LoupeError("--workers must be at least 1")
    opts = replace(opts, output_format="parquet")
    run = prepare_run(opts, codebook=codebook, embedder=embedder, threshold=settings.threshold,
                      scan_progress=scan_progress)
    out, size, total = run.out, opts.chunk_size, run.scan.segments
    sink = ParquetSink(out)
    pending: list[int] = []
    for k, docs, chunk in run.chunks():  # the plan: documents, and the chunks still to code
        if sink.has_chunk(k, k * size, len(chunk)):
            continue
        sink.write_documents(k, docs)
        if chunk:
            sink.write_pending(k, [segment_record(s, k * size + i, coded=True) for i, s in enumerate(chunk)])
            pending.append(k)
    resumed_from = total - sum(min(size, total - k * size) for k in pending)
    done = resumed_from
    if progress:
        progress(done, total)
    if pending:
        worker_settings = settings.model_dump(mode="json")
        # CPU workers take the precision the driver settled; GPU workers settle auto/fast on their GPU.
        precision = settings.precision if gpus_per_worker else getattr(embedder, "precision", settings.precision)
        worker_settings.update(precision=precision, threads=max(1, int(cpus_per_worker)),
                               device="cuda" if gpus_per_worker else "cpu")
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            chunk_ids = ray.data.from_items([{"k": k} for k in pending], override_num_blocks=len(pending))
            ds = chunk_ids.map_batches(
                coder_cls,
                batch_size=1,
                concurrency=workers,
                num_cpus=cpus_per_worker,
                num_gpus=gpus_per_worker,
                fn_constructor_kwargs={
                    "settings": worker_settings, "codebook": codebook, "out_dir": str(out.resolve()),
                    "chunk_size": size, "skip_speakers": list(opts.skip_speakers), "provenance": run.provenance,
                },
                max_restarts=3,
                max_task_retries=3,
            )
            for row in ds.iter_rows():
                done += int(row["segments"])
                if progress:
                    progress(done, total)
        except Exception as exc:  # a Ray failure names the chunk and the worker's error
            raise LoupeError(f"the Ray run stopped: {exc}. Finished chunks are kept; run the command again to resume.") from None
        finally:
            if started_here:
                ray.shutdown()
    return finish_run(run, dim=embedder.dim, model=getattr(embedder, "fingerprint", embedder.model_id),
                      codebook=codebook, resumed_from=resumed_from, encoded=total - resumed_from, cache_hits=0,
                      engine="ray")
