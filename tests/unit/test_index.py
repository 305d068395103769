"""The faiss index: keyed add/search/remove, save/load with a manifest, and ANN recall."""

from __future__ import annotations

import numpy as np
import pytest

from models.artifacts import ArtifactCorrupt, ArtifactMismatch
from models.index.faiss_index import FaissIndex


def _clustered(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(8, n // 150), dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_by_id(embedder):
    texts = ["We trust the hospital.", "Funding gives them power.", "The GP led the project.", "Targets come from above."]
    v = embedder.encode(texts)
    ix = FaissIndex(embedder.dim, model="m")
    ix.add(np.array([10, 20, 30, 40]), v)
    scores, ids = ix.search(embedder.encode(["Money is power."]), 2)
    assert ids[0, 0] == 20 and scores[0, 0] > scores[0, 1]
    assert ix.remove([20, 99]) == 1 and len(ix) == 3
    assert 20 not in ix.search(v[1:2], 3)[1]
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(np.array([10]), v[:1])


def test_save_load_and_model_mismatch(tmp_path):
    x = _clustered(500)
    ix = FaissIndex(384, model="model-a")
    ix.add(np.arange(500), x)
    ix.save(tmp_path / "ix")
    loaded = FaissIndex.load(tmp_path / "ix", model="model-a")
    assert np.array_equal(loaded.search(x[:5], 3)[1], ix.search(x[:5], 3)[1])
    with pytest.raises(ArtifactMismatch, match="built with embedding model 'model-a'.*re-running `loupe code`"):
        FaissIndex.load(tmp_path / "ix", model="model-b")
    (tmp_path / "ix" / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(ArtifactCorrupt, match="checksum"):
        FaissIndex.load(tmp_path / "ix")


def test_large_index_becomes_ivf_with_measured_recall(tmp_path):
    n = 30_000
    everything = _clustered(n + 300)
    x, queries = everything[:n], everything[n:]  # queries held out from the same distribution
    ix = FaissIndex(384, model="m", ann_threshold=20_000, target_recall=0.97)
    ix.add(np.arange(n // 2), x[: n // 2])
    assert ix.kind == "flat"
    ix.add(np.arange(n // 2, n), x[n // 2:])
    assert ix.kind == "ivf" and ix.measured_recall >= 0.95

    # independent check of recall@10 against exact search on fresh queries
    rng = np.random.default_rng(1)
    exact = FaissIndex(384, model="m", ann_threshold=10**9)
    exact.add(np.arange(n), x)
    _, truth = exact.search(queries, 10)
    _, got = ix.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=False)])
    assert recall >= 0.95, recall

    # removal works on IVF, and survives save/load
    assert ix.remove(rng.choice(n, 100, replace=False)) == 100
    ix.save(tmp_path / "ivf")
    back = FaissIndex.load(tmp_path / "ivf")
    assert back.kind == "ivf" and len(back) == n - 100
    assert back.remove([int(i) for i in range(10)]) >= 1


@pytest.mark.parametrize("threshold", [100_000, 2_000])
def test_build_from_blocks_equals_adding_and_stays_keyed(threshold):
    """FaissIndex.build reads vectors block by block (a million-segment run never holds them twice):
    flat below the threshold, IVF trained on a sample above it, with ids = positions."""
    x = _clustered(6_000, dim=64)
    reads = []

    def blocks():
        reads.append(1)
        return (x[lo: lo + 1_000] for lo in range(0, len(x), 1_000))

    index = FaissIndex.build(blocks, n=len(x), dim=64, model="m", ann_threshold=threshold)
    assert len(index) == len(x) and index.kind == ("flat" if threshold > len(x) else "ivf")
    assert len(reads) == (1 if index.kind == "flat" else 4)  # flat: one pass; ivf: sample, queries, add, truth
    _, ids = index.search(x[[0, 2_999, 5_999]], 1)
    assert ids[:, 0].tolist() == [0, 2_999, 5_999]
    if index.kind == "ivf":
        assert index.measured_recall >= 0.97
    reference = FaissIndex(64, model="m", ann_threshold=threshold)
    reference.add(np.arange(len(x)), x)
    q = x[::500]
    assert np.array_equal(reference.search(q, 5)[1][:, 0], index.search(q, 5)[1][:, 0])
