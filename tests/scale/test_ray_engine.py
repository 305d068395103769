"""The Ray engine on a real local Ray cluster (a head and two worker nodes) gives the single-machine
output, survives a worker that dies mid-run, and `loupe code --engine ray` skips finished chunks on
re-run."""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, shared_path

pytest.importorskip("ray.data", reason="the Ray engine needs ray[data] (pip install -e '.[dev]')")
pq = pytest.importorskip("pyarrow.parquet")

import ray.cloudpickle  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from scripts.cli import app  # noqa: E402
from service.batch import ray as ray_engine  # noqa: E402
from service.batch.ray import ChunkCoder  # noqa: E402

N = 1_000
CHUNK = 125  # eight chunks, as with 2,000 segments, at half the encoding (the suite must stay under 10 minutes)
CRASH_CHUNK = 3


class CrashOnceCoder(ChunkCoder):
    """A worker that dies (the whole process) the first time it codes chunk CRASH_CHUNK, leaving
    `.crashed-3` in the run folder; Ray restarts it and retries the chunk."""

    def code(self, k: int) -> None:
        marker = self.out / f".crashed-{k}"
        if k == CRASH_CHUNK and not marker.exists():
            marker.touch()
            os._exit(1)
        super().code(k)


# Ray's workers (other processes) cannot import this test module: send its classes by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _loupe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "scripts.cli", "code", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """N Benoit manifesto sentences as a CSV of answers (one segment each)."""
    src = shared_path("datasets", "benoit2016_crowd_immigration", "sentences.csv")
    path = tmp_path_factory.mktemp("ray-corpus") / "answers.csv"
    with open(src, encoding="utf-8", newline="") as f, open(path, "w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["id", "text"])
        for i, row in enumerate(csv.DictReader(f)):
            if i == N:
                break
            w.writerow([row["sentenceid"], " ".join(row["sentence_text"].split())])
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with no CPUs for work and two 1-CPU worker nodes."""
    from ray.cluster_utils import Cluster

    saved = dict(os.environ)
    os.environ.update({"HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"})
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, nodes
    c.shutdown()
    os.environ.clear()
    os.environ.update(saved)


def _loupe_in_process_with_a_crash(*args: str, monkeypatch) -> None:
    """`loupe code ARGS` in this process, its Ray engine using workers that die once on chunk 3."""
    monkeypatch.setattr(ray_engine, "run_batch_ray", functools.partial(ray_engine.run_batch_ray, coder_cls=CrashOnceCoder))
    result = CliRunner().invoke(app, ["code", *args])
    assert result.exit_code == 0, result.output


def test_ray_engine_equals_single_machine(tmp_path, corpus, cluster, monkeypatch):
    c, nodes = cluster
    env = {**os.environ, "LOUPE_DATA_DIR": str(tmp_path / "data"), "RAY_USAGE_STATS_ENABLED": "0"}
    monkeypatch.setenv("LOUPE_DATA_DIR", env["LOUPE_DATA_DIR"])
    common = ["--chunk-size", str(CHUNK), "--threads", "1", "--quiet"]
    _loupe(str(corpus), "--out", str(tmp_path / "local"), "--format", "parquet", "--no-cache", *common, env=env)
    ray_out = tmp_path / "ray"
    _loupe_in_process_with_a_crash(str(corpus), "--out", str(ray_out), "--engine", "ray", "--address", c.address,
                                   "--workers", "2", *common, monkeypatch=monkeypatch)

    local = tmp_path / "local"
    for kind in ("documents", "segments"):
        assert pq.read_table(local / kind).to_pylist() == pq.read_table(ray_out / kind).to_pylist(), kind
    # Suggestions: every field equal, scores to 1e-5. On some machines a worker's scores differ from
    # the driver's in the sixth decimal (the codebook's passages are encoded in each process).
    a, b = pq.read_table(local / "suggestions").to_pylist(), pq.read_table(ray_out / "suggestions").to_pylist()
    assert len(a) == len(b)
    floats = ("score", "evidence_similarity")
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k not in floats} == {k: v for k, v in y.items() if k not in floats}
        assert all(abs(x[k] - y[k]) <= 1e-5 for k in floats), (x, y)
    assert len(pq.read_table(ray_out / "segments")) == N
    assert len(pq.read_table(ray_out / "suggestions")) > 100
    n_chunks = N // CHUNK
    for k in range(n_chunks):
        name = f"part-{k:05d}.npy"
        assert np.array_equal(np.load(local / "embeddings" / name), np.load(ray_out / "embeddings" / name))
    assert (ray_out / ".crashed-3").exists()  # a worker died on chunk 3, and the chunk was retried
    assert not any((ray_out / "_pending").iterdir())
    summary = json.loads((ray_out / "summary.json").read_text())
    assert summary["engine"] == "ray" and summary["segments"] == N and summary["resumed_from"] == 0
    local_summary = json.loads((local / "summary.json").read_text())
    assert summary["codes"] == local_summary["codes"] and summary["suggestions"] == local_summary["suggestions"]
    index = json.loads((ray_out / "index" / "manifest.json").read_text())
    assert index["count"] == N

    # A re-run finds every chunk done and starts no work on the cluster.
    before = {p.name: p.stat().st_mtime_ns for p in (ray_out / "suggestions").iterdir()}
    again = _loupe(str(corpus), "--out", str(ray_out), "--engine", "ray", "--address", c.address, *common[:-1], env=env)
    assert f"resumed after {N} segments" in again.stdout.replace("\n", " ")
    assert {p.name: p.stat().st_mtime_ns for p in (ray_out / "suggestions").iterdir()} == before
