"""The corpus-scale benchmark at CI size: 5,000 generated answers through the whole `loupe code`
command (Parquet, no cache) in ten chunks, with the index forced to IVF so the sampled,
block-by-block index build runs too. The million-segment run is the same script with
--segments 1000000 (docs/benchmarks.md). 5,000 rather than 20,000 keeps the suite within its
10 minutes on 2 cores; every path the larger run takes is still taken."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, shared_path

N = 5_000  # answers: ten chunks of 512, above the forced IVF threshold of 2,000


def test_bench_scale_5k(tmp_path):
    shared_path("datasets", "benoit2016_crowd_immigration", "sentences.csv")
    shared_path("datasets", "qabstracts_se_abstracts", "first_pass", "units.jsonl")
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "scripts/bench_scale.py", "--segments", str(N), "--out", str(out), "--work", str(tmp_path / "work"),
         "--ann-threshold", "2000", "--chunk-size", "512"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "loupe code at scale" in proc.stdout and "seg/s" in proc.stdout
    r = json.loads((out / "scale.json").read_text())
    assert r["documents"] == N and N <= r["segments"] <= N + 50  # one segment per answer, bar a few long ones
    assert r["peak_rss_mb"] < 4096 and r["segments_per_second"] > 0
    assert r["index_kind"] == "ivf" and r["index_recall_at_10"] >= 0.97 and r["index_mb"] > N * 384 * 4 / 2**20
    assert r["suggestions"] > 0 and r["precision"] in ("fp32", "bf16")
    assert r["timings_s"]["encode"] > 0 and r["timings_s"]["index_build"] > 0 and "time split (s): scan" in proc.stdout
    run = tmp_path / "work" / "run"
    assert len(list((run / "suggestions").glob("part-*.parquet"))) == 10
    corpus = tmp_path / "work" / "corpus"
    texts = [line.split(",", 1)[1] for f in sorted(corpus.glob("*.csv")) for line in f.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(texts) == N and len(set(texts)) > 0.95 * N  # replicated with variation, not copied
