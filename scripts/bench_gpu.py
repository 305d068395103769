"""Batch coding on a CUDA GPU: raw encode and the `loupe code` pipeline, fp16 and bf16, by batch size.

    python -m scripts.bench_gpu [--segments 20000] [--batch-sizes 64,128,256,512] [--out bench-results/gpu]

Run through scripts/bench_gpu.sh, which installs what this needs first. For each precision
(fp16, bf16) and each batch size, on the rows and windows corpora of scripts/bench_throughput.py:
- raw: `SentenceTransformer.encode` alone on the segment texts (normalised, numpy out);
- pipeline: `run_batch`, the `loupe code` code path (read, segment, tokenise ahead, embed with
  sentence pooling, propose, write JSONL and CSV, build the faiss index), no embedding cache;
alternating, `--repeats` rounds, best of each, after a warm-up batch (CUDA kernels and the caching
allocator settle). Records the GPU (name, memory, driver), torch and CUDA versions, the CPU and the
load average. Writes gpu.json and prints a table. Exits 2 when there is no CUDA GPU.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from scripts.bench_throughput import build_corpus, cpu_info, timed


def gpu_info() -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count(),
            "capability": f"{props.major}.{props.minor}", "bf16": torch.cuda.is_bf16_supported(),
            "torch": torch.__version__, "cuda": torch.version.cuda}


def main(
    segments: int = typer.Option(20000, help="segments per shape (rows: at most the 7,206 sentences there are)"),
    batch_sizes: str = typer.Option("64,128,256,512", help="encoder batch sizes to sweep, comma-separated"),
    precisions: str = typer.Option("fp16,bf16", help="precisions, comma-separated"),
    shapes: str = typer.Option("rows,windows", help="corpora, comma-separated (see scripts/bench_throughput.py)"),
    repeats: int = typer.Option(3, help="alternating rounds; the best of each is reported"),
    out: Path = typer.Option(Path("bench-results/gpu"), help="folder for gpu.json"),
) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU visible to torch; nothing measured", file=sys.stderr)
        raise typer.Exit(2)
    from models.classifiers.zero_shot import ZeroShotClassifier
    from models.codebook import seed_codebook
    from models.embedders.sentence_transformers import SentenceTransformerEmbedder
    from models.text.segment import SegmentationConfig
    from service.batch.inputs import scan_inputs, stream_corpus
    from service.batch.run import BatchOptions, run_batch

    console = Console()
    work = Path(tempfile.mkdtemp(prefix="loupe-gpu-"))
    codebook = seed_codebook()
    rows: list[dict[str, Any]] = []
    for shape in shapes.split(","):
        inputs, seg_opts = build_corpus(work / shape / "corpus", segments if shape == "rows" else 10**9, shape)
        segmentation = SegmentationConfig(**seg_opts)
        for precision in precisions.split(","):
            for bs in (int(b) for b in batch_sizes.split(",")):
                emb = SentenceTransformerEmbedder(device="cuda", precision=precision, batch_size=bs)
                scan = scan_inputs(inputs, segmentation=segmentation, count_tokens=emb.count_tokens, limit=segments)
                texts = [s.text for _, segs in stream_corpus(scan, segmentation=segmentation, count_tokens=emb.count_tokens,
                                                             limit=segments) for s in segs]
                classifier = ZeroShotClassifier(codebook, emb)
                emb.encode_raw(texts[: bs * 2])  # warm-up
                times: dict[str, list[float]] = {"raw": [], "pipeline": []}
                loads: dict[str, list[list[float]]] = {"raw": [], "pipeline": []}
                for r in range(repeats):
                    torch.cuda.synchronize()
                    seconds, _, load = timed(partial(emb.encode_raw, texts))
                    times["raw"].append(seconds)
                    loads["raw"].append(load)
                    opts = BatchOptions(inputs=inputs, out_dir=work / shape / f"{precision}-{bs}-{r}", limit=segments,
                                        segmentation=segmentation)
                    seconds, result, load = timed(partial(run_batch, opts, codebook=codebook, embedder=emb, classifier=classifier))
                    times["pipeline"].append(seconds)
                    loads["pipeline"].append(load)
                n = len(texts)
                row: dict[str, Any] = {"shape": shape, "precision": emb.precision, "batch_size": bs, "segments": n,
                       "raw_seg_per_s": round(n / min(times["raw"]), 1), "pipeline_seg_per_s": round(n / min(times["pipeline"]), 1),
                       "ratio_pipeline_to_raw": round(min(times["raw"]) / min(times["pipeline"]), 4),
                       "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()}, "loadavg_1min_before_after": loads,
                       "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
                rows.append(row)
                console.print(row)
                del emb, classifier
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
    record: dict[str, Any] = {"rows": rows, "gpu": gpu_info(), "cpu": cpu_info(), "repeats": repeats,
              "machine": {"platform": platform.platform(), "python": platform.python_version()}}
    table = Table(title=f"GPU: {record['gpu']['name']}, best of {repeats}")
    for col in ("shape", "precision", "batch", "raw seg/s", "pipeline seg/s", "pipeline / raw"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(row["shape"], row["precision"], str(row["batch_size"]), f"{row['raw_seg_per_s']:,.0f}",
                      f"{row['pipeline_seg_per_s']:,.0f}", f"{row['ratio_pipeline_to_raw']:.2f}")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(record, indent=2))
    console.print(f"wrote {out / 'gpu.json'}")


if __name__ == "__main__":
    typer.run(main)
