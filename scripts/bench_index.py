"""The faiss index build of a large batch run, timed alone: sample, IVF training, adding, nprobe tuning.

    python scripts/bench_index.py [--n 1000000] [--dim 384] [--base embeddings.f32] [--out bench-results]

The vectors are written once to a float32 file in a temporary folder and read back block by block,
as `loupe code` reads its embeddings (FaissIndex.build, the same call `finish_run` makes):
- with `--base PATH` (an embeddings.f32 of a real run, `--dim` wide), each vector is a base
  vector (cycled) plus Gaussian noise, renormalised: clustered as real embeddings are;
- without, plain random unit vectors: no cluster structure, the hardest case for IVF recall.
Then 1,000 fresh queries (perturbed stored vectors, not the tuning ones) measure recall@10 of the
built index against exact search. Prints a table and writes index.json.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table


def write_vectors(path: Path, n: int, dim: int, base: Path | None, seed: int = 1, block: int = 65_536) -> None:
    rng = np.random.default_rng(seed)
    src = np.fromfile(base, dtype=np.float32).reshape(-1, dim) if base else None
    with open(path, "wb") as f:
        for lo in range(0, n, block):
            m = min(block, n - lo)
            if src is None:
                v = rng.standard_normal((m, dim), dtype=np.float32)
            else:
                v = src[np.arange(lo, lo + m) % len(src)] + rng.normal(scale=0.3 / np.sqrt(dim), size=(m, dim)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            f.write(v.astype(np.float32).tobytes())


def blocks(path: Path, n: int, dim: int, rows: int = 65_536) -> Iterator[np.ndarray]:
    with open(path, "rb") as f:
        for lo in range(0, n, rows):
            m = min(rows, n - lo)
            yield np.frombuffer(f.read(m * dim * 4), dtype=np.float32).reshape(m, dim)


def main(
    n: Annotated[int, typer.Option(help="vectors")] = 1_000_000,
    dim: Annotated[int, typer.Option(help="dimension")] = 384,
    base: Annotated[Path | None, typer.Option(help="embeddings.f32 of a real run to perturb (else random)")] = None,
    out: Annotated[Path, typer.Option(help="folder for index.json")] = Path("bench-results"),
) -> None:
    from models.index.faiss_index import FaissIndex, _exact_top10, _perturbed

    work = Path(tempfile.mkdtemp(prefix="loupe-index-"))
    path = work / "vectors.f32"
    t0 = time.perf_counter()
    write_vectors(path, n, dim, base)
    generate_s = time.perf_counter() - t0
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    index = FaissIndex.build(lambda: blocks(path, n, dim), n=n, dim=dim, model="bench")
    build_s = time.perf_counter() - t0
    load1 = os.getloadavg()
    rng = np.random.default_rng(7)
    pos = np.sort(rng.choice(n, size=1000, replace=False))
    vecs = np.fromfile(path, dtype=np.float32, count=n * dim).reshape(n, dim)
    queries = _perturbed(vecs[pos], rng)
    del vecs
    exact = _exact_top10(queries, blocks(path, n, dim))
    _, got = index.search(queries, 10)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, exact, strict=True)]))
    t0 = time.perf_counter()
    index.save(work / "index")
    save_s = time.perf_counter() - t0
    record = {
        "n": n, "dim": dim, "vectors": f"perturbed {base.name}" if base else "random unit",
        "kind": index.kind, "nlist": int(index._ivf().nlist) if index.kind == "ivf" else None, "nprobe": index.nprobe,
        "build_s": round(build_s, 2), "phases_s": index.build_seconds, "save_s": round(save_s, 2),
        "tuning_recall_at_10": index.measured_recall, "fresh_query_recall_at_10": round(recall, 4),
        "index_bytes": (work / "index" / "index.faiss").stat().st_size, "generate_s": round(generate_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in load1],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    for f in work.rglob("*"):
        if f.is_file():
            f.unlink()
    table = Table(title=f"faiss index build, {n:,} x {dim}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in record.items():
        table.add_row(key, str(value))
    Console().print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    typer.run(main)
