"""Throughput of batch coding against the raw encoder: four paths side by side, in one run.

    python scripts/bench_throughput.py [--segments 3000] [--shape both|rows|windows] [--repeats 3] [--out bench-results]

1. Builds a corpus from ../shared/datasets/benoit2016_crowd_immigration/sentences.csv:
   `rows`: one CSV row per response (mostly one sentence each);
   `windows`: each manifesto as a text, segmented into sliding windows of 3 sentences (stride 1;
   multi-sentence segments, so evidence pooling is exercised).
2. For each shape, times four paths on the same segments, alternating, `--repeats` rounds, best of each:
   - raw fp32: `SentenceTransformer.encode` alone on the segment texts (normalised, numpy out);
   - pipeline fp32: the same code path as `loupe code` (read, segment, tokenise, embed with sentence
     pooling, propose, write JSONL and CSV, build the faiss index), in-process, with a fresh, empty
     embedding cache each round (as a first `loupe code` run has);
   - raw bf16 and pipeline fast: the same two with precision "fast" (bf16 weights where they match
     fp32 and are faster on this CPU, settled by the embedder's own check; on a CPU without native
     bf16 they stay fp32, and the JSON says so);
   The pipelines run as `loupe code` does: with the read-ahead and write-behind threads where a
   core is free for them (service.batch.run.spare_core). With `--overlap-row` (the default), the
   fast pipeline also runs the other way (threads forced on where they are off by default, and
   off where on), to show what the overlap does here.
   Model loading is excluded. With `--cli`, the whole `loupe code --precision fast` command is also
   timed once in a subprocess (start-up and model load included), for information.
3. Records the CPU (lscpu model name, whether it has amx_bf16 / avx512_bf16), the thread count and
   the load average before and after every timing (the machine may be shared: the ratios, measured
   side by side, are the result; the absolute speeds move with the load).
4. Checks the bars: fast pipeline >= 0.90 of raw bf16 on rows and >= 0.85 on windows; fp32
   pipeline >= 0.90 of raw fp32. Prints a table per shape and writes throughput.json.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
# LOUPE_BENCH_SENTENCES: the Benoit sentences.csv elsewhere (a machine without ../shared beside the checkout)
DATA = Path(os.environ.get("LOUPE_BENCH_SENTENCES")
            or ROOT.parent / "shared" / "datasets" / "benoit2016_crowd_immigration" / "sentences.csv")
BARS = {("rows", "fast"): 0.90, ("windows", "fast"): 0.85, ("rows", "fp32"): 0.90, ("windows", "fp32"): 0.90}


def build_corpus(folder: Path, n: int, shape: str) -> tuple[list[Path], dict]:
    """Write the benchmark corpus; returns the inputs and the loupe options that read it."""
    if not DATA.exists():
        raise SystemExit(f"needs {DATA} (the shared data folder beside the checkout, or LOUPE_BENCH_SENTENCES)")
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


def cpu_info() -> dict[str, Any]:
    """lscpu's model name and the native bf16 flags (amx_bf16, avx512_bf16)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    model = re.search(r"^Model name:\s*(.+)$", out, re.M)
    flags = re.search(r"^Flags:\s*(.+)$", out, re.M)
    names = set(flags.group(1).split()) if flags else set()
    return {"model": model.group(1).strip() if model else platform.processor(), "cpus": os.cpu_count(),
            "amx_bf16": "amx_bf16" in names, "avx512_bf16": "avx512_bf16" in names}


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any, list[float]]:
    """Seconds, result, and the 1-minute load average before and after."""
    before = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    return seconds, result, [round(before, 2), round(os.getloadavg()[0], 2)]


PATHS = ("raw_fp32", "pipeline_fp32", "raw_fast", "pipeline_fast", "pipeline_fast_other_overlap")


def bench_shape(shape: str, *, work: Path, segments: int, repeats: int, models: dict[str, Any], codebook: Any,
                overlap_row: bool) -> dict[str, Any]:
    from models.classifiers.zero_shot import ZeroShotClassifier
    from models.embedders.cache import EmbeddingCache
    from models.text.segment import SegmentationConfig
    from service.batch.inputs import scan_inputs, stream_corpus
    from service.batch.run import BatchOptions, run_batch, spare_core

    inputs, seg_opts = build_corpus(work / shape / "corpus", segments if shape == "rows" else 10**9, shape)
    segmentation = SegmentationConfig(**seg_opts)
    scan = scan_inputs(inputs, segmentation=segmentation, count_tokens=models["fp32"].count_tokens, limit=segments)
    texts = [seg.text for _, segs in stream_corpus(scan, segmentation=segmentation, count_tokens=models["fp32"].count_tokens,
                                                   limit=segments) for seg in segs]
    classifiers = {name: ZeroShotClassifier(codebook, emb) for name, emb in models.items()}
    times: dict[str, list[float]] = {p: [] for p in PATHS if overlap_row or p != "pipeline_fast_other_overlap"}
    other = not spare_core(models["fast"])  # the overlap setting that loupe code does not pick here
    loads: dict[str, list[list[float]]] = {p: [] for p in times}
    vectors: dict[str, np.ndarray] = {}
    result = None
    for r in range(repeats):
        for path in times:
            precision = "fp32" if path.endswith("fp32") else "fast"
            emb, classifier = models[precision], classifiers[precision]
            if path.startswith("raw"):
                seconds, vectors[precision], load = timed(partial(emb.encode_raw, texts))
            else:
                emb.cache = EmbeddingCache(work / shape / f"cache-{path}-{r}.sqlite")  # empty: everything is encoded
                emb.encode(classifier.prototype_texts)  # the codebook prototypes, as at start-up
                opts = BatchOptions(inputs=inputs, out_dir=work / shape / f"{path}-{r}", limit=segments,
                                    segmentation=segmentation, overlap=other if path == "pipeline_fast_other_overlap" else None)
                seconds, result, load = timed(partial(run_batch, opts, codebook=codebook, embedder=emb, classifier=classifier))
                if result.segments != len(texts):
                    raise SystemExit(f"the pipeline coded {result.segments} segments, the raw path {len(texts)}")
            times[path].append(seconds)
            loads[path].append(load)
    n = len(texts)
    best = {p: min(t) for p, t in times.items()}
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    cosine = np.sum(unit(vectors["fp32"]) * unit(vectors["fast"]), axis=1)
    tokens = sum(models["fp32"].count_tokens(t) for t in texts)
    ratios = {
        "pipeline_fp32_to_raw_fp32": best["raw_fp32"] / best["pipeline_fp32"],
        "pipeline_fast_to_raw_fast": best["raw_fast"] / best["pipeline_fast"],
        "raw_fast_to_raw_fp32": best["raw_fp32"] / best["raw_fast"],
        "pipeline_fast_to_raw_fp32": best["raw_fp32"] / best["pipeline_fast"],
    }
    if "pipeline_fast_other_overlap" in best:
        ratios["pipeline_fast_other_overlap_to_raw_fast"] = best["raw_fast"] / best["pipeline_fast_other_overlap"]
    bars = {
        "pipeline_fast_to_raw_fast": {"bar": BARS[(shape, "fast")], "met": ratios["pipeline_fast_to_raw_fast"] >= BARS[(shape, "fast")]},
        "pipeline_fp32_to_raw_fp32": {"bar": BARS[(shape, "fp32")], "met": ratios["pipeline_fp32_to_raw_fp32"] >= BARS[(shape, "fp32")]},
    }
    return {
        "shape": shape, "segments": n, "overlap_by_default": not other, "mean_tokens_per_segment": round(tokens / n, 1),
        "seg_per_s": {p: round(n / b, 2) for p, b in best.items()},
        "ratios": {k: round(v, 4) for k, v in ratios.items()}, "bars": bars,
        "seconds": {p: [round(t, 2) for t in ts] for p, ts in times.items()},
        "loadavg_1min_before_after": loads,
        "encoded_by_pipeline": result.encoded if result else None, "suggestions": result.suggestions if result else None,
        "fast_cosine_to_fp32_min": round(float(cosine.min()), 5), "fast_cosine_to_fp32_mean": round(float(cosine.mean()), 5),
    }


def main(
    segments: int = typer.Option(3000, help="segments to code per shape"),
    shape: str = typer.Option("both", help="rows, windows or both (see module docstring)"),
    threads: int = typer.Option(os.cpu_count() or 2, help="torch threads"),
    batch_size: int = typer.Option(64, help="encoder batch size"),
    out: Path = typer.Option(Path("bench-results"), help="folder for throughput.json"),
    repeats: int = typer.Option(3, help="alternating rounds of every path; the best of each is reported"),
    overlap_row: bool = typer.Option(True, help="also time the fast pipeline with the overlap threads the other way"),
    cli: bool = typer.Option(False, help="also time the whole `loupe code --precision fast` command in a subprocess"),
) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from models.codebook import seed_codebook
    from models.embedders.sentence_transformers import SentenceTransformerEmbedder

    if shape not in ("rows", "windows", "both"):
        raise typer.BadParameter("--shape must be rows, windows or both")
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="loupe-bench-"))
    codebook = seed_codebook()
    load0 = os.getloadavg()
    models = {
        "fp32": SentenceTransformerEmbedder(threads=threads, batch_size=batch_size),
        # precision "fast": bf16 weights where they match fp32 and are faster on this CPU (measured here)
        "fast": SentenceTransformerEmbedder(threads=threads, batch_size=batch_size, precision="fast",
                                            precision_memo=work / "precision.json"),
    }
    for emb in models.values():
        emb.encode_raw(["warm-up sentence"] * 64)  # first-call overheads out of every timing
    shapes = ("rows", "windows") if shape == "both" else (shape,)
    results = [bench_shape(s, work=work, segments=segments, repeats=repeats, models=models, codebook=codebook,
                           overlap_row=overlap_row) for s in shapes]
    record: dict[str, Any] = {
        "shapes": results,
        "fast_precision": models["fast"].precision,
        "fast_precision_check": models["fast"].precision_check,
        "threads": threads, "batch_size": batch_size, "repeats": repeats, "model": models["fp32"].model_id,
        "device": models["fp32"].device,
        "cpu": cpu_info(),
        "loadavg_start": [round(x, 2) for x in load0], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
    }
    if cli:
        inputs, seg_opts = build_corpus(work / "cli" / "corpus", segments, "rows")
        env = {**os.environ, "LOUPE_DATA_DIR": str(work / "cli-data"), "LOUPE_THREADS": str(threads)}
        args = [sys.executable, "-m", "scripts.cli", "code", *map(str, inputs), "--out", str(work / "cli-run"),
                "--limit", str(segments), "--precision", "fast", "--quiet"]
        seconds, proc, load = timed(partial(subprocess.run, args, cwd=ROOT, env=env, capture_output=True, text=True))
        if proc.returncode != 0:
            raise SystemExit(proc.stdout + proc.stderr)
        record["cli_rows_fast"] = {"wall_s_including_startup": round(seconds, 2), "loadavg_1min_before_after": load,
                                   "peak_rss_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1)}

    cpu = record["cpu"]
    for res in results:
        table = Table(title=f"{res['shape']}: {res['segments']} segments, {res['mean_tokens_per_segment']} tokens each, "
                            f"{threads} threads, best of {repeats} (fast = {record['fast_precision']})")
        for col in ("path", "seg/s", "seconds per round", "load avg (1 min) before/after"):
            table.add_column(col, justify="left" if col == "path" else "right")
        for p, rate in res["seg_per_s"].items():
            table.add_row(p, f"{rate:,.1f}", " ".join(f"{t:.1f}" for t in res["seconds"][p]),
                          " ".join(f"{a:.1f}/{b:.1f}" for a, b in res["loadavg_1min_before_after"][p]))
        console.print(table)
        for k, v in res["ratios"].items():
            bar = res["bars"].get(k)
            console.print(f"  {k}: {v:.3f}" + (f"  (bar {bar['bar']:.2f}: {'met' if bar['met'] else 'MISSED'})" if bar else ""))
    console.print(f"CPU: {cpu['model']}, {cpu['cpus']} CPUs, amx_bf16={cpu['amx_bf16']}, avx512_bf16={cpu['avx512_bf16']}; "
                  f"load average {record['loadavg_start']} at the start, {record['loadavg_end']} at the end")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "throughput.json"
    path.write_text(json.dumps(record, indent=2))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
