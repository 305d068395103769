"""Throughput of batch coding against the raw encoder, on the same segments in one run.

    python scripts/bench_throughput.py [--segments 5000] [--shape rows|windows] [--out bench-results]

1. Builds a corpus from ../shared/datasets/benoit2016_crowd_immigration/sentences.csv:
   `rows`: one CSV row per response (mostly one sentence each);
   `windows`: each manifesto as a text, segmented into sliding windows of 3 sentences (stride 1;
   multi-sentence segments, so evidence pooling is exercised).
2. Raw encoder: SentenceTransformer.encode alone on the segment texts (normalised, numpy out).
3. Pipeline: the same code path as `loupe code` (read, segment, embed with sentence pooling,
   propose, write JSONL/CSV, build the faiss index), in-process with an empty embedding cache.
   Model loading is excluded from both; the whole `loupe code` command is also timed in a
   subprocess (start-up and model load included) for information.
4. Fast path: raw encoder and pipeline again, each with precision "fast" (bf16 weights where they match fp32 and
   are faster on this CPU, settled by the embedder's own check), and the cosine of each segment's
   bf16 embedding to its fp32 one. The ratios compare with the raw fp32 encoder in the same run.
Raw and pipeline runs alternate `--repeats` times (each pipeline run with a fresh, empty cache);
the best time of each is reported, as timings on a shared 2-core machine are noisy.
Prints a table and writes throughput.json.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "benoit2016_crowd_immigration" / "sentences.csv"


def build_corpus(folder: Path, n: int, shape: str) -> tuple[list[Path], dict]:
    """Write the benchmark corpus; returns the inputs and the loupe options that read it."""
    if not DATA.exists():
        raise SystemExit(f"needs {DATA} (the shared data folder beside the checkout)")
    with open(DATA, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    folder.mkdir(parents=True, exist_ok=True)
    if shape == "rows":
        path = folder / "sentences.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "text"])
            for r in rows[:n]:
                w.writerow([r["sentenceid"], r["sentence_text"]])
        return [path], {"unit": "auto"}
    by_manifesto: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_manifesto[r["manifestoid"]].append(r["sentence_text"])
    for name, sentences in by_manifesto.items():
        (folder / f"{name.replace(' ', '_')}.txt").write_text(" ".join(sentences), encoding="utf-8")
    return [folder], {"unit": "window", "window": 3, "stride": 1}


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main(
    segments: int = typer.Option(5000, help="segments to code"),
    shape: str = typer.Option("rows", help="rows or windows (see module docstring)"),
    threads: int = typer.Option(os.cpu_count() or 2, help="torch threads"),
    batch_size: int = typer.Option(64, help="encoder batch size"),
    out: Path = typer.Option(Path("bench-results"), help="folder for throughput.json"),
    repeats: int = typer.Option(2, help="alternating raw/pipeline runs; the best of each is reported"),
    cli: bool = typer.Option(True, help="also time the whole `loupe code` command in a subprocess"),
) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from models.classifiers.zero_shot import ZeroShotClassifier
    from models.codebook import seed_codebook
    from models.embedders.cache import EmbeddingCache
    from models.embedders.sentence_transformers import SentenceTransformerEmbedder
    from models.text.segment import SegmentationConfig
    from service.batch.run import BatchOptions, run_batch

    console = Console()
    work = Path(tempfile.mkdtemp(prefix="loupe-bench-"))
    inputs, seg_opts = build_corpus(work / "corpus", segments if shape == "rows" else 10**9, shape)
    codebook = seed_codebook()

    embedder = SentenceTransformerEmbedder(threads=threads, batch_size=batch_size, cache=EmbeddingCache(work / "cache.sqlite"))
    classifier = ZeroShotClassifier(codebook, embedder)  # encodes the codebook's prototypes (cached)

    embedder.encode_raw(["warm-up sentence"] * 64)  # first-call overheads out of both timings
    # precision "fast": bf16 weights where they match fp32 and are faster on this CPU (measured here)
    fast = SentenceTransformerEmbedder(threads=threads, batch_size=batch_size, precision="fast",
                                       precision_memo=work / "precision.json")
    fast_classifier = ZeroShotClassifier(codebook, fast)
    fast.encode_raw(["warm-up sentence"] * 64)
    raw_times, pipeline_times, fast_raw_times, fast_pipeline_times = [], [], [], []
    for r in range(repeats):
        embedder.cache = EmbeddingCache(work / f"cache-{r}.sqlite")  # empty: everything is encoded
        embedder.encode(classifier.prototype_texts)  # the codebook prototypes, as at start-up
        run_opts = BatchOptions(inputs=inputs, out_dir=work / f"run-{r}", segmentation=SegmentationConfig(**seg_opts), limit=segments)
        t0 = time.perf_counter()
        result = run_batch(run_opts, codebook=codebook, embedder=embedder, classifier=classifier)
        pipeline_times.append(time.perf_counter() - t0)
        texts = [json.loads(line)["text"] for line in open(work / f"run-{r}" / "segments.jsonl", encoding="utf-8")]
        t0 = time.perf_counter()
        reference = embedder.encode_raw(texts)
        raw_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fast_vectors = fast.encode_raw(texts)
        fast_raw_times.append(time.perf_counter() - t0)
        fast_opts = BatchOptions(inputs=inputs, out_dir=work / f"fast-run-{r}", segmentation=SegmentationConfig(**seg_opts),
                                 limit=segments)
        t0 = time.perf_counter()
        run_batch(fast_opts, codebook=codebook, embedder=fast, classifier=fast_classifier)
        fast_pipeline_times.append(time.perf_counter() - t0)
    raw_s, pipeline_s = min(raw_times), min(pipeline_times)
    # both are L2-normalised in their own precision; renormalise in float32 before comparing
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    cosine = np.sum(unit(reference) * unit(fast_vectors), axis=1)
    rss = peak_rss_mb()

    tokens = sum(embedder.count_tokens(t) for t in texts)
    record = {
        "segments": len(texts),
        "shape": shape,
        "mean_tokens_per_segment": round(tokens / len(texts), 1),
        "raw_encoder_seg_per_s": round(len(texts) / raw_s, 2),
        "pipeline_seg_per_s": round(len(texts) / pipeline_s, 2),
        "ratio_pipeline_to_raw": round(raw_s / pipeline_s, 4),
        # duplicates within the corpus come from the cache; this ratio counts only what was encoded
        "ratio_per_encoded_segment": round((result.encoded / pipeline_s) / (len(texts) / raw_s), 4),
        "fast_precision": fast.precision,
        "fast_precision_check": fast.precision_check,
        "fast_raw_encoder_seg_per_s": round(len(texts) / min(fast_raw_times), 2),
        "fast_pipeline_seg_per_s": round(len(texts) / min(fast_pipeline_times), 2),
        "ratio_fast_raw_to_raw": round(raw_s / min(fast_raw_times), 4),
        "ratio_fast_pipeline_to_raw": round(raw_s / min(fast_pipeline_times), 4),
        "fast_cosine_to_fp32_min": round(float(cosine.min()), 5),
        "fast_cosine_to_fp32_mean": round(float(cosine.mean()), 5),
        "raw_encoder_s": [round(t, 2) for t in raw_times],
        "fast_raw_encoder_s": [round(t, 2) for t in fast_raw_times],
        "fast_pipeline_s": [round(t, 2) for t in fast_pipeline_times],
        "pipeline_s": [round(t, 2) for t in pipeline_times],
        "encoded_by_pipeline": result.encoded,
        "suggestions": result.suggestions,
        "peak_rss_mb": round(rss, 1),
        "threads": threads,
        "batch_size": batch_size,
        "model": embedder.model_id,
        "device": embedder.device,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
    if cli:
        env = {**os.environ, "LOUPE_DATA_DIR": str(work / "cli-data"), "LOUPE_THREADS": str(threads)}
        args = [sys.executable, "-m", "scripts.cli", "code", *map(str, inputs), "--out", str(work / "cli-run"),
                "--limit", str(segments), "--unit", seg_opts["unit"], "--quiet"]
        if "window" in seg_opts:
            args += ["--window", str(seg_opts["window"]), "--stride", str(seg_opts["stride"])]
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stdout + proc.stderr)
        record["cli_wall_s_including_startup"] = round(cli_s, 2)
        record["cli_seg_per_s_including_startup"] = round(len(texts) / cli_s, 2)
        record["cli_peak_rss_mb"] = round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1)

    table = Table(title=f"Batch coding throughput ({len(texts)} segments, {shape}, {threads} threads)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("raw_encoder_seg_per_s", "pipeline_seg_per_s", "ratio_pipeline_to_raw", "ratio_per_encoded_segment",
                "fast_precision", "fast_raw_encoder_seg_per_s", "fast_pipeline_seg_per_s", "ratio_fast_raw_to_raw",
                "ratio_fast_pipeline_to_raw", "fast_cosine_to_fp32_min", "fast_cosine_to_fp32_mean",
                "encoded_by_pipeline", "mean_tokens_per_segment",
                "peak_rss_mb", "cli_seg_per_s_including_startup", "cli_wall_s_including_startup", "cli_peak_rss_mb"):
        if key in record:
            table.add_row(key, str(record[key]))
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"throughput-{shape}.json"
    path.write_text(json.dumps(record, indent=2))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
