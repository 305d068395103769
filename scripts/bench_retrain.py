"""How long does a retrain take? The learned head fitted on 10,000 decisions, both kinds of head.

    python scripts/bench_retrain.py [--decisions 10000] [--out bench-results]

The corpus is the ~11,300 real sentences of the two shared datasets (qabstracts and Benoit) as one
project, with the features a retrain job builds (segment_features: context and TF-IDF). Decisions
fall on random segments with codes drawn from the qabstracts consensus where it exists and at
random elsewhere, so the fit has real signal and real noise. Times the full fit (calibration
included) and a prediction for every segment, with the thread count the service uses (2).
Writes retrain.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def main(decisions: int = typer.Option(10_000), out: Path = typer.Option(Path("bench-results"))) -> None:
    from threadpoolctl import threadpool_limits

    from eval.datasets import QABSTRACTS_CODES, load_benoit, load_qabstracts
    from models.base import Span
    from models.classifiers.learned import (
        Decision,
        HeadConfig,
        LearnedHead,
        segment_features,
    )
    from service.pipeline import build_embedder
    from service.settings import get_settings

    qa = load_qabstracts(SHARED / "qabstracts_se_abstracts")
    be = load_benoit(SHARED / "benoit2016_crowd_immigration")
    texts = qa.texts + be.texts
    docs = qa.doc_ids + [f"b-{d}" for d in be.doc_ids]
    ords = qa.ordinals + be.ordinals
    embedder = build_embedder(get_settings())
    vectors = embedder.encode_segments(texts, [[Span(0, len(t))] for t in texts]).vectors
    rng = np.random.default_rng(0)
    codes = list(QABSTRACTS_CODES)
    truth = np.vstack([qa.truth, np.zeros((len(be.texts), len(codes)), dtype=np.int8)])
    rows = rng.choice(len(texts), size=min(decisions, len(texts)), replace=False)
    made: list[Decision] = []
    for i in rows:
        code = int(np.argmax(truth[i])) if truth[i].any() else int(rng.integers(len(codes)))
        made.append(Decision(int(i), codes[code], bool(truth[i].any() or rng.random() < 0.5)))
    while len(made) < decisions:  # more decisions than segments: second opinions on other codes
        i = int(rng.integers(len(texts)))
        made.append(Decision(i, codes[int(rng.integers(len(codes)))], False))
    prior = np.full((len(texts), len(codes)), 0.3)
    console = Console()
    results: list[dict[str, Any]] = []
    with threadpool_limits(2):
        t0 = time.perf_counter()
        features = segment_features(vectors, docs, ords, texts)
        t_features = time.perf_counter() - t0
        for exclusive in (True, False):
            t1 = time.perf_counter()
            head = LearnedHead(codes, HeadConfig(C=1.0 if exclusive else 0.5, exclusive=exclusive, seed=0)).fit(features, made, prior)
            t2 = time.perf_counter()
            head.predict_proba(features, prior)
            t3 = time.perf_counter()
            results.append({"head": "exclusive (multinomial)" if exclusive else "per-code", "decisions": len(made), "segments": len(texts),
                            "features_s": round(t_features, 2), "fit_s": round(t2 - t1, 2), "predict_s": round(t3 - t2, 2)})
    table = Table(title=f"Retrain on {len(made):,} decisions, {len(texts):,} segments, 2 threads")
    for col in ("head", "features (s)", "fit with calibration (s)", "score every segment (s)"):
        table.add_column(col)
    for r in results:
        table.add_row(r["head"], f"{r['features_s']:.1f}", f"{r['fit_s']:.1f}", f"{r['predict_s']:.1f}")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "retrain.json").write_text(json.dumps({"results": results, "cpus": os.cpu_count()}, indent=2))
    console.print(f"wrote {out / 'retrain.json'}")


if __name__ == "__main__":
    typer.run(main)
