"""The corpus-scale benchmark at CI size: 20,000 generated answers through the whole `loupe code`
command (Parquet, no cache), with the index forced to IVF so the sampled, block-by-block index
build runs too. The million-segment run is the same script with --segments 1000000 (README)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, shared_path


def test_bench_scale_20k(tmp_path):
    shared_path("datasets", "benoit2016_crowd_immigration", "sentences.csv")
    shared_path("datasets", "qabstracts_se_abstracts", "first_pass", "units.jsonl")
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "scripts/bench_scale.py", "--segments", "20000", "--out", str(out), "--work", str(tmp_path / "work"),
         "--ann-threshold", "10000", "--chunk-size", "2048"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "loupe code at scale" in proc.stdout and "seg/s" in proc.stdout
    r = json.loads((out / "scale.json").read_text())
    assert r["documents"] == 20_000 and 20_000 <= r["segments"] <= 20_050  # one segment per answer, bar a few long ones
    assert r["peak_rss_mb"] < 4096 and r["segments_per_second"] > 0
    assert r["index_kind"] == "ivf" and r["index_recall_at_10"] >= 0.97 and r["index_mb"] > 20_000 * 384 * 4 / 2**20
    assert r["suggestions"] > 0 and r["precision"] in ("fp32", "bf16")
    run = tmp_path / "work" / "run"
    assert len(list((run / "suggestions").glob("part-*.parquet"))) == 10
    corpus = tmp_path / "work" / "corpus"
    texts = [line.split(",", 1)[1] for f in sorted(corpus.glob("*.csv")) for line in f.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(texts) == 20_000 and len(set(texts)) > 19_000  # replicated with variation, not copied
