"""Batch coding at corpus scale: throughput, peak memory and index size of `loupe code`.

    python scripts/bench_scale.py [--segments 1000000] [--out bench-results] [--precision fast]

1. Generates a corpus of open-ended answers from the shared datasets' sentences (Benoit 2016
   manifesto sentences and the qabstracts abstract sentences), replicated with variation: each
   copy after the first gets a discourse marker, a dropped or swapped word and a closing clause
   chosen at random (seeded), so no two answers are the same text and no cache can help. The
   answers go into ten CSV files ("survey waves"), one answer per row, one segment per answer.
2. Runs the whole `loupe code` command on it in a child process, Parquet output, no embedding
   cache, the model's load included, and reads the child's peak resident memory from the kernel
   (getrusage of the waited-for child: the VmHWM of that process).
3. Prints a table and writes scale.json: segments, seconds, segments per second, peak RSS, the
   faiss index's kind, size and measured recall, the size of the outputs, the run's time split
   by phase (summary.json's `timings_s`), the CPU and the load average before and after.
Needs ../shared/datasets beside the checkout.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.embedders.precision import cpu_has_native_bf16, cpu_name

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
MARKERS = ["", "Honestly, ", "In my view, ", "To be fair, ", "As we said before, ", "Overall, ", "Frankly, ",
           "On reflection, ", "From where I sit, ", "In short, "]
CLOSINGS = ["", " That is what we saw.", " It varies by area.", " Others may disagree.", " This year more so.",
            " It was not always like that.", " We raised it twice."]
WAVES = 10


def base_sentences() -> list[str]:
    """The shared datasets' sentences, in a fixed order."""
    benoit = SHARED / "benoit2016_crowd_immigration" / "sentences.csv"
    qabs = SHARED / "qabstracts_se_abstracts" / "first_pass" / "units.jsonl"
    if not benoit.exists() or not qabs.exists():
        raise SystemExit(f"needs {benoit} and {qabs} (the shared data folder beside the checkout)")
    with open(benoit, encoding="utf-8", newline="") as f:
        texts = [r["sentence_text"] for r in csv.DictReader(f)]
    texts += [json.loads(line)["text"] for line in qabs.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [" ".join(t.split()) for t in texts if len(t.strip()) > 10]


def vary(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) > 4:
        i = rng.randrange(1, len(words) - 1)
        if rng.random() < 0.5:
            del words[i]
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
    body = " ".join(words)
    marker = rng.choice(MARKERS)
    if marker:
        body = body[0].lower() + body[1:] if body[:1].isupper() and not body[:2].isupper() else body
    return marker + body + rng.choice(CLOSINGS)


def generate(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n answers in WAVES CSV files (id, text, wave); returns the files."""
    base = base_sentences()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    per = -(-n // WAVES)
    written = 0
    for wave in range(WAVES):
        path = folder / f"wave_{wave + 1:02d}.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "text", "wave"])
            for _ in range(min(per, n - written)):
                i = written
                text = base[i % len(base)] if i < len(base) else vary(base[i % len(base)], rng)
                w.writerow([f"r{i}", text, wave + 1])
                written += 1
        files.append(path)
        if written >= n:
            break
    return files


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(
    segments: Annotated[int, typer.Option(help="answers (= segments) to generate and code")] = 1_000_000,
    out: Annotated[Path, typer.Option(help="folder for scale.json")] = Path("bench-results"),
    work: Annotated[Path | None, typer.Option(help="working folder (default: a temporary one, removed)")] = None,
    precision: Annotated[str, typer.Option(help="encoder precision passed to loupe code")] = "fast",
    threads: Annotated[int, typer.Option(help="encoder threads")] = 2,
    chunk_size: Annotated[int, typer.Option(help="segments per chunk")] = 4096,
    batch_size: Annotated[int, typer.Option(help="encoder batch size")] = 64,
    ann_threshold: Annotated[int, typer.Option(help="segments above which the index is IVF (LOUPE_ANN_THRESHOLD)")] = 50_000,
) -> None:
    console = Console()
    tmp = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="loupe-scale-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        corpus = work / "corpus"
        if not corpus.exists():
            generate(corpus, segments)
        generate_s = time.perf_counter() - t
        run_dir = work / "run"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "LOUPE_DATA_DIR": str(work / "data"),
               "LOUPE_ANN_THRESHOLD": str(ann_threshold)}
        cmd = [sys.executable, "-m", "scripts.cli", "code", str(corpus), "--out", str(run_dir), "--format", "parquet",
               "--no-cache", "--precision", precision, "--threads", str(threads), "--chunk-size", str(chunk_size),
               "--batch-size", str(batch_size), "--overwrite", "--quiet"]
        console.print(f"coding {segments:,} segments: {' '.join(cmd[2:])}", highlight=False)
        load_before = os.getloadavg()
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(f"loupe code failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads((run_dir / "summary.json").read_text())
        manifest = json.loads((run_dir / "index" / "manifest.json").read_text())
        memo = work / "data" / "cache" / "precision.json"
        precision_used = next(iter(json.loads(memo.read_text()).values()))["precision"] if memo.exists() else precision
        result = {
            "segments": summary["segments"],
            "documents": summary["documents"],
            "suggestions": summary["suggestions"],
            "wall_seconds": round(wall, 1),
            "segments_per_second": round(summary["segments"] / wall, 1),
            "coding_seconds": summary["seconds"],
            "timings_s": summary.get("timings_s", {}),  # the run's wall time split by phase (service.batch.run.finish_run)
            "peak_rss_mb": round(peak_mb),
            "index_kind": manifest.get("index_kind"),
            "index_mb": round((run_dir / "index" / "index.faiss").stat().st_size / 2**20, 1),
            "index_nprobe": manifest.get("nprobe"),
            "index_recall_at_10": manifest.get("measured_recall_at_10"),
            "outputs_mb": round(dir_size(run_dir) / 2**20, 1),
            "precision": precision_used,
            "threads": threads,
            "chunk_size": chunk_size,
            "generate_seconds": round(generate_s, 1),
            "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                        "native_bf16": cpu_has_native_bf16()},
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "command": "python scripts/bench_scale.py " + " ".join(sys.argv[1:]),
        }
    finally:
        if tmp is not None:
            tmp.cleanup()
    table = Table(title=f"loupe code at scale ({segments:,} segments, {threads} threads)", title_justify="left")
    for col in ("segments", "wall s", "seg/s", "peak RSS MB", "index", "index MB", "recall@10", "outputs MB"):
        table.add_column(col, justify="right")
    table.add_row(f"{result['segments']:,}", f"{result['wall_seconds']:,.0f}", f"{result['segments_per_second']:,.0f}",
                  f"{result['peak_rss_mb']:,}", f"{result['index_kind']} (nprobe {result['index_nprobe']})"
                  if result["index_nprobe"] else str(result["index_kind"]), f"{result['index_mb']:,}",
                  f"{result['index_recall_at_10']:.3f}" if result["index_recall_at_10"] else "exact",
                  f"{result['outputs_mb']:,}")
    console.print(table)
    split = result["timings_s"]
    if split:
        console.print("time split (s): " + ", ".join(f"{k} {v:,.1f}" for k, v in split.items()), highlight=False)
    console.print(f"CPU: {result['machine']['cpu']}, load average {result['loadavg_before'][0]} before, "
                  f"{result['loadavg_after'][0]} after", highlight=False)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out / 'scale.json'}")


if __name__ == "__main__":
    typer.run(main)
