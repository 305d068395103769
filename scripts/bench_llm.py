"""Suggestions per second on the LLM rerank path (verify each suggestion with the LLM), with a
given model.

    python3 -m scripts.bench_llm --backend transformers --model PATH [--suggestions 200] [--device cpu|cuda]
    python3 -m scripts.bench_llm --backend openai --model NAME --base-url http://127.0.0.1:8001/v1
    python3 -m scripts.bench_llm            # no model given: a tiny random GPT-2 built here (mechanics only)

The suggestions are the zero-shot suggestions for the sample corpus (seed codebook), each shown to
the LLM with its neighbouring segments as context (the same prompt the service uses). Reports
cold throughput (an empty answer cache) and the cached re-run; prints a table and writes
bench-results/llm[-TAG].json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()


def main(
    backend: str = typer.Option("transformers", help="transformers, nli or openai"),
    model: str = typer.Option("", help="a local model folder (transformers, nli) or the server's model name (openai)"),
    base_url: str = typer.Option("", help="openai: the server's base URL"),
    suggestions: int = typer.Option(200, help="how many suggestions to verify"),
    device: str = typer.Option("auto"),
    precision: str = typer.Option("auto"),
    batch_size: int = typer.Option(8),
    concurrency: int = typer.Option(8, help="openai: requests in flight"),
    tag: str = typer.Option("", help="suffix for the JSON file name"),
    out: Path = typer.Option(Path("bench-results")),
) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from models.codebook import seed_codebook
    from models.llm.base import Backend, ResponseCache
    from models.llm.coder import LLMCoder
    from service.discovery.files import discover_inputs
    from service.jobs.llm_rerank import passages_in_context
    from service.settings import get_settings

    note = ""
    if not model and backend != "openai":
        from tests.tiny_models import tiny_causal_lm

        model = str(tiny_causal_lm(out / "tiny-lm"))
        note = "tiny random GPT-2 (2 layers, 32-d) built locally: measures the mechanics, not a real model's speed"
    settings = get_settings(threads=2)
    codebook = seed_codebook()
    data, _ = discover_inputs(settings, [ROOT / "models" / "data" / "sample_corpus"], text_column="response")  # read, embedded, scored
    passages = passages_in_context(data.texts, data.documents, data.speakers)
    scores = data.scores
    assert scores is not None, "discover_inputs scores every segment"
    pairs = sorted(((float(scores[i, j]), i, data.codes[j]) for i in range(len(data.texts)) for j in range(len(data.codes))), reverse=True)
    items = [(passages[i], code) for _, i, code in pairs[:suggestions]]

    llm: Backend
    if backend == "openai":
        from models.llm.openai_http import OpenAICompatible

        llm = OpenAICompatible(base_url, model, concurrency=concurrency)
    elif backend == "nli":
        from models.llm.local import NLIModel

        llm = NLIModel(model, device=device, precision=precision, batch_size=batch_size)
    else:
        from models.llm.local import CausalLM

        llm = CausalLM(model, device=device, precision=precision, batch_size=batch_size)
    coder = LLMCoder(llm, codebook, cache=ResponseCache(":memory:"))
    t0 = time.perf_counter()
    coder.verify(items)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    coder.verify(items)
    warm = time.perf_counter() - t0
    result: dict[str, Any] = {
        "backend": backend, "model": getattr(llm, "model_id", model), "device": getattr(llm, "device", "server"),
        "precision": getattr(llm, "precision", "server"), "suggestions": len(items), "cold_seconds": round(cold, 3),
        "cold_per_second": round(len(items) / cold, 2), "cached_per_second": round(len(items) / max(warm, 1e-9), 1), "note": note,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
    }
    import torch

    if torch.cuda.is_available():
        result["gpu"] = torch.cuda.get_device_name(0)
    table = Table(title="LLM rerank path (verify suggestions)", title_justify="left")
    for col in ("backend", "model", "device", "suggestions", "cold: sugg/s", "cached re-run: sugg/s"):
        table.add_column(col)
    table.add_row(backend, result["model"], f"{result['device']} {result['precision']}", str(len(items)),
                  f"{result['cold_per_second']:.1f}", f"{result['cached_per_second']:.0f}")
    console.print(table)
    if note:
        console.print(f"[yellow]note:[/] {note}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"llm{'-' + tag if tag else ''}.json"
    path.write_text(json.dumps(result, indent=1))
    console.print(f"Wrote {path}")


if __name__ == "__main__":
    typer.run(main)
