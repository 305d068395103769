"""Clustering: quality against human codes (qabstracts) and time and peak memory at scale.

    python scripts/bench_cluster.py [--sizes 10000,100000] [--skip-quality] [--skip-scale]

Quality (qabstracts, the coders' codes held out of the clustering): adjusted mutual information
and purity of the clusters against the consensus code, for HDBSCAN (default settings) and k-means
(k = number of codes, and the default k); then, for each code, coverage is measured as if the
analysts' codebook lacked it (the other consensus codes count as applied) and we check whether a
cluster made mostly of that code's sentences becomes a candidate code.

Scale: the real MiniLM embeddings of every sentence in qabstracts and Benoit et al. (~11,300),
replicated with small Gaussian variation up to each size; each configuration runs in a fresh
process (`--one`), which reports its wall time and peak RSS for the whole discovery (clustering,
keywords, representatives, coverage and the PCA map; not the embedding). Prints tables and
writes bench-results/cluster.json.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
console = Console()


def _embedder():
    from service.pipeline import build_embedder
    from service.settings import get_settings

    return build_embedder(get_settings(threads=2))


def quality(seed: int) -> dict:
    from eval.datasets import load_qabstracts
    from eval.discovery import cluster_agreement, leave_one_out
    from models.discovery.clustering import ClusterConfig, cluster_embeddings
    from models.discovery.describe import describe_clusters

    units = load_qabstracts(SHARED / "qabstracts_se_abstracts")
    vectors = _embedder().encode(units.texts)
    codes_per_unit = [{units.codes[j] for j in np.flatnonzero(row)} for row in units.truth]
    single = np.array([len(cs) == 1 for cs in codes_per_unit])
    truth = np.array([sorted(cs)[0] if len(cs) == 1 else "" for cs in codes_per_unit])
    out: dict = {"units": len(units.texts), "single_code_units": int(single.sum()), "codes": units.codes, "runs": []}
    configs = {
        "hdbscan (default: UMAP 5-d)": ClusterConfig(method="hdbscan", seed=seed),
        "hdbscan on PCA 5-d": ClusterConfig(method="hdbscan", reduction="pca", seed=seed),
        f"k-means k={len(units.codes)}": ClusterConfig(method="kmeans", k=len(units.codes), seed=seed),
        "k-means (default k)": ClusterConfig(method="kmeans", seed=seed),
    }
    for name, config in configs.items():
        t0 = time.perf_counter()
        found = cluster_embeddings(vectors, config)
        seconds = time.perf_counter() - t0
        scores = cluster_agreement(truth[single], found.labels[single])
        clusters = describe_clusters(found, vectors, units.texts, units.doc_ids, [None] * len(units.texts))
        removal = [leave_one_out(found, clusters, codes_per_unit, code, units.texts) for code in units.codes]
        out["runs"].append({"config": name, "params": found.params, "seconds": round(seconds, 2), **scores, "leave_one_out": removal})
    return out


def scale_vectors(cache: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Unique real embeddings (and texts, documents) of the shared datasets, cached in `cache`."""
    vec_path, meta_path = cache / "vectors.npy", cache / "texts.json"
    if vec_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return np.load(vec_path), meta["texts"], meta["docs"]
    from eval.datasets import load_benoit, load_qabstracts

    q = load_qabstracts(SHARED / "qabstracts_se_abstracts")
    b = load_benoit(SHARED / "benoit2016_crowd_immigration")
    texts, docs = q.texts + b.texts, q.doc_ids + b.doc_ids
    vectors = _embedder().encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(vec_path, vectors)
    meta_path.write_text(json.dumps({"texts": texts, "docs": docs}))
    return vectors, texts, docs


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(size: int, method: str, cache: Path, seed: int) -> dict:
    """One configuration, in this process: what the parent measures."""
    from models.discovery.clustering import ClusterConfig
    from models.discovery.describe import member_codes
    from models.discovery.pipeline import DiscoveryConfig, discover

    base, texts, docs = scale_vectors(cache)
    rng = np.random.default_rng(seed)
    reps = -(-size // len(base))
    idx = np.tile(np.arange(len(base)), reps)[:size]
    x = base[idx] + rng.normal(scale=0.02, size=(size, base.shape[1])).astype(np.float32) * (np.arange(size) >= len(base))[:, None]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t_texts = [texts[i] for i in idx]
    t_docs = [f"{docs[i]}:{k // len(base)}" for k, i in enumerate(idx)]
    carried = member_codes(None, [], 0.5, {i: {"coded"} for i in range(0, size, 3)})  # a third of the segments carry a code
    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    found = discover(x, t_texts, t_docs, [None] * size, carried, DiscoveryConfig(clustering=ClusterConfig(method=method, seed=seed)))  # type: ignore[arg-type]  # --methods is a str; ClusterConfig refuses an unknown method
    seconds = time.perf_counter() - t0
    return {"size": size, "method": found.clustering.method, "seconds": round(seconds, 2), "clusters": found.clustering.n_clusters,
            "noise": int((found.clustering.labels < 0).sum()), "candidates": len(found.candidates),
            "peak_rss_mb": round(_peak_rss_mb(), 1), "rss_before_mb": round(rss_before, 1)}


def main(
    sizes: str = typer.Option("10000,100000", help="comma-separated segment counts for the scale part"),
    methods: str = typer.Option("hdbscan,kmeans", help="methods to time at each size"),
    skip_quality: bool = typer.Option(False),
    skip_scale: bool = typer.Option(False),
    seed: int = typer.Option(0),
    cache: Path = typer.Option(Path("bench-results/cluster-cache"), help="embeddings of the shared sentences, reused between runs"),
    out: Path = typer.Option(Path("bench-results")),
    one_size: int = typer.Option(0, "--one-size", hidden=True),
    one_method: str = typer.Option("", "--one-method", hidden=True),
) -> None:
    if one_size:
        print(json.dumps(one(one_size, one_method, cache, seed)))
        return
    if not SHARED.exists():
        console.print(f"[yellow]skipped:[/] needs {SHARED} (the shared data folder beside the checkout)")
        raise typer.Exit(0)
    target = out / "cluster.json"
    result: dict = json.loads(target.read_text()) if target.exists() else {}  # a part not run keeps its last numbers
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()}
    if not skip_quality:
        result["quality"] = q = quality(seed)
        t = Table(title=f"qabstracts: clusters against the consensus code ({q['single_code_units']} single-code sentences of {q['units']})", title_justify="left")
        for col in ("clustering", "clusters", "noise", "AMI", "purity", "codes that surface when left out"):
            t.add_column(col)
        for r in q["runs"]:
            surfaced = [f"{x['code']} ({x['best_candidate_share']:.0%})" for x in r["leave_one_out"] if x["surfaced"]]
            t.add_row(r["config"], str(r["clusters"]), f"{r['noise']:.0%}", f"{r['ami']:.3f}", f"{r['purity']:.3f}", ", ".join(surfaced) or "none")
        console.print(t)
    if not skip_scale:
        scale_vectors(cache)  # embed once, here, so the timed processes only read the cache
        rows = []
        for size in [int(s) for s in sizes.split(",") if s]:
            for method in [m for m in methods.split(",") if m]:
                proc = subprocess.run([sys.executable, __file__, "--one-size", str(size), "--one-method", method, "--cache", str(cache), "--seed", str(seed)],
                                      capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
                if proc.returncode != 0:
                    console.print(f"[red]{size} {method} failed:[/] {proc.stderr[-2000:]}")
                    continue
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                console.print(f"  {size:,} {method}: {rows[-1]['seconds']} s, peak {rows[-1]['peak_rss_mb']} MB", highlight=False)
        result["scale"] = rows
        t = Table(title="Discovery time and peak memory (2 cores; embeddings precomputed)", title_justify="left")
        for col in ("segments", "method", "seconds", "clusters", "noise", "peak RSS (MB)", "RSS before (MB)"):
            t.add_column(col, justify="right")
        for r in rows:
            t.add_row(f"{r['size']:,}", r["method"], f"{r['seconds']:.1f}", str(r["clusters"]), str(r["noise"]), f"{r['peak_rss_mb']:.0f}", f"{r['rss_before_mb']:.0f}")
        console.print(t)
    out.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1))
    console.print(f"Wrote {target}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    typer.run(main)
