"""`precision="fast"` on a CPU: bf16 weights only where they match fp32 and are faster here.

Recent x86 CPUs (AVX512-BF16, AMX) run bf16 matrix products natively; older ones emulate them and
run slower than fp32. So the choice is measured, not assumed: the first time a model is loaded
with precision "fast" on a machine, it encodes a check set (the passages of the shipped sample
corpus, about a hundred) in fp32 and in bf16 and keeps bf16 only when every passage's embedding has
cosine >= MIN_COSINE to its fp32 embedding and bf16 is at least MIN_SPEEDUP times faster.
The verdict is remembered in a JSON file keyed by model, CPU, torch version and thread count,
so later loads skip the measurement.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import atomic_write_text

MIN_COSINE = 0.99
MIN_SPEEDUP = 1.2
CHECK_TEXTS = 256


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16 (Linux /proc/cpuinfo); elsewhere we do not guess."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def check_texts(n: int = CHECK_TEXTS) -> list[str]:
    """Passages from the shipped sample corpus: transcript lines and survey answers, in a fixed order."""
    root = resources.files("models.data").joinpath("sample_corpus")
    texts: list[str] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv"):
            with io.TextIOWrapper(entry.open("rb"), encoding="utf-8", newline="") as f:
                texts.extend(r["response"] for r in csv.DictReader(f))
        elif entry.name.endswith((".txt", ".md")):
            texts.extend(line.split(":", 1)[-1].strip() for line in entry.read_text(encoding="utf-8").splitlines())
    texts = [t for t in texts if len(t) >= 20]
    return texts[:n]


def compare(encode_a: Callable[[Sequence[str]], np.ndarray], encode_b: Callable[[Sequence[str]], np.ndarray],
            texts: Sequence[str], repeats: int = 2) -> dict[str, float]:
    """Best-of-`repeats` seconds of each encoder (alternating, after one warm-up batch) and the
    cosine of b's embeddings to a's, per text."""
    encode_a(texts[:16])
    encode_b(texts[:16])
    best_a = best_b = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a = encode_a(texts)
        best_a = min(best_a, time.perf_counter() - t)
        t = time.perf_counter()
        b = encode_b(texts)
        best_b = min(best_b, time.perf_counter() - t)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = np.sum(a * b, axis=1)
    return {"seconds_a": best_a, "seconds_b": best_b, "speedup": best_a / best_b,
            "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())}


def memo_key(model: str, threads: int) -> str:
    import torch

    return f"{model}|{cpu_name()}|torch {torch.__version__}|threads {threads}"


def read_memo(path: Path | None, key: str) -> dict[str, Any] | None:
    if path is None or not Path(path).exists():
        return None
    try:
        memo = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged memo is measured again
    found = memo.get(key) if isinstance(memo, dict) else None
    return found if isinstance(found, dict) else None


def write_memo(path: Path | None, key: str, record: dict[str, Any]) -> None:
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    except (OSError, ValueError):
        data = {}
    data[key] = record
    atomic_write_text(p, json.dumps(data, indent=2, sort_keys=True))


def decide(measured: dict[str, float]) -> dict[str, Any]:
    ok_cos = measured["min_cosine"] >= MIN_COSINE
    ok_speed = measured["speedup"] >= MIN_SPEEDUP
    reason = "matches fp32 and is faster" if ok_cos and ok_speed else (
        f"min cosine {measured['min_cosine']:.4f} < {MIN_COSINE}" if not ok_cos
        else f"speed-up {measured['speedup']:.2f}x < {MIN_SPEEDUP}x")
    return {**{k: round(v, 5) for k, v in measured.items()}, "precision": "bf16" if ok_cos and ok_speed else "fp32",
            "reason": reason, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
