"""A faiss vector index keyed by int64 segment ids.

Exact inner-product search (IndexFlatIP) up to `ann_threshold` vectors; above it an IVF index
(IndexIVFFlat, inner product) whose `nprobe` is tuned at build time until recall@10 against exact
search on held-out queries reaches `target_recall`. The measured recall is kept in the manifest.

Vectors must be L2-normalised float32, so inner product is cosine similarity.

`build` times its phases (`build_seconds`: sample, train, add, tune), so a batch run can report
what its index cost; they are not saved (a saved index is the same bytes whatever the timing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.artifacts import ArtifactMismatch, library_versions, read_manifest, write_manifest
from models.base import LoupeError

if TYPE_CHECKING:
    import faiss

INDEX_FILE = "index.faiss"


def _as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def _as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if v.ndim != 2 or v.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {v.shape}")
    return v


def _nlist(n: int) -> int:
    """Inverted lists for n vectors: about 4 sqrt(n), at least 39 training points each, at most 2048."""
    return int(min(max(4 * np.sqrt(n), 16), n // 39, 2048))


def _perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Queries for recall tuning: stored vectors moved by small noise (in-distribution, not stored)."""
    q = vectors + rng.normal(scale=0.5 / np.sqrt(vectors.shape[1]), size=vectors.shape).astype(np.float32)
    out: np.ndarray = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return out


def _exact_top10(queries: np.ndarray, blocks: Iterable[np.ndarray]) -> np.ndarray:
    """Positions of the exact 10 nearest (inner product), over vectors given block by block."""
    import faiss
    from faiss.contrib.exhaustive_search import knn_ground_truth

    positions: np.ndarray
    _, positions = knn_ground_truth(queries, blocks, 10, metric_type=faiss.METRIC_INNER_PRODUCT, ngpu=0)
    return positions


def _gather(blocks: Iterable[np.ndarray], positions: np.ndarray, dim: int) -> np.ndarray:
    """Rows at sorted `positions` of the concatenated blocks."""
    out = np.empty((len(positions), dim), np.float32)
    lo = filled = 0
    for block in blocks:
        hi = lo + len(block)
        take = positions[(positions >= lo) & (positions < hi)]
        out[filled: filled + len(take)] = block[take - lo]
        filled += len(take)
        lo = hi
    return out


class FaissIndex:
    """Keyed vector index; see the module docstring. `kind` is "flat" or "ivf"."""

    def __init__(
        self,
        dim: int,
        *,
        model: str,
        ann_threshold: int = 50_000,
        target_recall: float = 0.97,
        seed: int = 0,
    ) -> None:
        import faiss

        self.dim = int(dim)
        self.model = model
        self.ann_threshold = int(ann_threshold)
        self.target_recall = float(target_recall)
        self.seed = int(seed)
        self.kind = "flat"
        self.measured_recall: float | None = None
        self.build_seconds: dict[str, float] = {}  # phase -> seconds, set by build()
        # IndexIDMap2 over IndexFlatIP while kind is "flat", IndexIVFFlat once "ivf"
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nprobe(self) -> int | None:
        return int(self._ivf().nprobe) if self.kind == "ivf" else None

    def _ivf(self) -> faiss.IndexIVF:
        """The index as IVF (kind "ivf"); faiss.read_index returns the concrete class."""
        import faiss

        if not isinstance(self._index, faiss.IndexIVF):
            raise LoupeError(f"a {self.kind} index holds a {type(self._index).__name__}, not an IVF index; rebuild it")
        return self._index

    def _flat(self) -> faiss.IndexIDMap2:
        """The index as an id map over exact search (kind "flat")."""
        import faiss

        if not isinstance(self._index, faiss.IndexIDMap2):
            raise LoupeError(f"a {self.kind} index holds a {type(self._index).__name__}, not an IndexIDMap2; rebuild it")
        return self._index

    # -- mutation -----------------------------------------------------------------------------
    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """ids: int64 (n,), unique and not yet present; vectors: float32 (n, dim), L2-normalised."""
        ids_, vecs = _as_ids(ids), _as_vectors(vectors, self.dim)
        if len(ids_) != len(vecs):
            raise ValueError(f"{len(ids_)} ids for {len(vecs)} vectors")
        if len(np.unique(ids_)) != len(ids_):
            raise ValueError("ids must be unique")
        if len(self) and self.kind == "flat":
            present = [i for i in ids_[:10_000] if self._has(int(i))]
            if present:
                raise ValueError(f"ids already in the index: {present[:5]}")
        self._index.add_with_ids(vecs, ids_)
        if self.kind == "flat" and len(self) > self.ann_threshold:
            self._to_ivf()

    def _has(self, i: int) -> bool:
        try:
            self._index.reconstruct(i)
            return True
        except RuntimeError:
            return False

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Removes the ids present; returns how many were removed."""
        import faiss

        ids_ = _as_ids(ids)
        # IVF with a hashtable direct map accepts only an IDSelectorArray
        sel = faiss.IDSelectorArray(len(ids_), faiss.swig_ptr(ids_)) if self.kind == "ivf" else faiss.IDSelectorBatch(ids_)
        return int(self._index.remove_ids(sel))

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        if self.kind == "flat":
            flat = self._flat()
            ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
            return ids, flat.index.reconstruct_n(0, len(self))
        from faiss.contrib.inspect_tools import get_invlist

        ivf = self._ivf()
        parts = [get_invlist(ivf.invlists, lst) for lst in range(ivf.nlist)]
        ids = np.concatenate([p[0] for p in parts]).astype(np.int64)
        vecs = np.concatenate([p[1].view(np.float32).reshape(-1, self.dim) for p in parts])
        return ids, vecs

    def _to_ivf(self) -> None:
        """Rebuild as IVF-Flat and tune nprobe to the target recall@10 against exact search."""
        ids, vecs = self._all()
        n = len(ids)
        rng = np.random.default_rng(self.seed)
        nlist = _nlist(n)
        ivf = self._trained_ivf(vecs[rng.choice(n, size=min(n, 64 * nlist), replace=False)], nlist)
        ivf.add_with_ids(vecs, ids)
        queries = _perturbed(vecs[rng.choice(n, size=min(n, 500), replace=False)], rng)
        exact_ids = ids[_exact_top10(queries, [vecs])]
        self._index = ivf
        self.kind = "ivf"
        self.measured_recall = self._tune_nprobe(ivf, queries, exact_ids)

    @classmethod
    def build(
        cls,
        blocks: Callable[[], Iterable[np.ndarray]],
        *,
        n: int,
        dim: int,
        model: str,
        ann_threshold: int = 50_000,
        target_recall: float = 0.97,
        seed: int = 0,
    ) -> FaissIndex:
        """An index over n vectors with ids 0..n-1, read block by block from `blocks()` (called once
        for a flat index, four times for IVF, each time yielding the vectors in id order). Only the index itself and one
        block are ever in memory, which is what lets a million-segment batch run stay small: above
        ann_threshold the IVF index is trained on a sample and filled block by block, never built
        flat first."""
        self = cls(dim, model=model, ann_threshold=ann_threshold, target_recall=target_recall, seed=seed)
        clock = time.perf_counter()

        def lap(phase: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            self.build_seconds[phase] = round(now - clock, 3)
            clock = now

        if n <= ann_threshold:
            lo = 0
            for block in blocks():
                self._index.add_with_ids(_as_vectors(block, dim), np.arange(lo, lo + len(block), dtype=np.int64))
                lo += len(block)
            lap("add")
            return self
        rng = np.random.default_rng(seed)
        nlist = _nlist(n)
        train_pos = np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))
        query_pos = np.sort(rng.choice(n, size=min(n, 500), replace=False))
        train, queries = _gather(blocks(), train_pos, dim), _gather(blocks(), query_pos, dim)
        lap("sample")
        ivf = self._trained_ivf(train, nlist)
        del train
        lap("train")
        lo = 0
        for block in blocks():
            ivf.add_with_ids(_as_vectors(block, dim), np.arange(lo, lo + len(block), dtype=np.int64))
            lo += len(block)
        if lo != n:
            raise LoupeError(f"expected {n} vectors, read {lo}")
        lap("add")
        queries = _perturbed(queries, rng)
        exact_ids = _exact_top10(queries, (_as_vectors(b, dim) for b in blocks()))
        self._index = ivf
        self.kind = "ivf"
        self.measured_recall = self._tune_nprobe(ivf, queries, exact_ids)
        lap("tune")
        return self

    def _trained_ivf(self, train: np.ndarray, nlist: int) -> faiss.IndexIVFFlat:
        import faiss

        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = self.seed
        ivf.train(np.ascontiguousarray(train, dtype=np.float32))
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # reconstruct() and remove_ids() by id; faiss's stubs lack DirectMap
        return ivf

    def _tune_nprobe(self, ivf: faiss.IndexIVF, queries: np.ndarray, exact_ids: np.ndarray) -> float:
        """Double nprobe until recall@10 against exact search reaches the target; returns the recall."""
        nprobe = 1
        while True:
            ivf.nprobe = nprobe
            _, got = ivf.search(queries, 10)
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, exact_ids, strict=True)]))
            if recall >= self.target_recall or nprobe >= ivf.nlist:
                return recall
            nprobe = min(ivf.nlist, nprobe * 2)

    # -- search -------------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns (scores float32 (n, k), ids int64 (n, k)), best first; missing neighbours have id -1."""
        q = _as_vectors(vectors, self.dim)
        if len(self) == 0:
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        scores, ids = self._index.search(q, int(k))
        return scores.astype(np.float32), ids.astype(np.int64)

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        import faiss

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(d / INDEX_FILE))
        write_manifest(
            d,
            "vector-index",
            INDEX_FILE,
            model=self.model,
            dim=self.dim,
            count=len(self),
            index_kind=self.kind,
            nprobe=self.nprobe,
            measured_recall_at_10=self.measured_recall,
            ann_threshold=self.ann_threshold,
            versions=library_versions("faiss-cpu", "sentence-transformers"),
        )

    @classmethod
    def load(cls, directory: str | Path, *, model: str | None = None) -> FaissIndex:
        """Load a saved index. If `model` is given and differs from the index's, refuse."""
        import faiss

        d = Path(directory)
        manifest = read_manifest(d, "vector-index")
        if model is not None and manifest["model"] != model:
            raise ArtifactMismatch(
                f"the index in {d} was built with embedding model {manifest['model']!r}, but the configured "
                f"model is {model!r}. Configure that model again (--model / LOUPE_EMBEDDER_MODEL), or rebuild "
                f"the index with the current model by re-running `loupe code` into a new --out folder."
            )
        self = cls(manifest["dim"], model=manifest["model"], ann_threshold=manifest.get("ann_threshold", 50_000))
        self._index = faiss.read_index(str(d / INDEX_FILE))
        self.kind = manifest.get("index_kind", "flat")
        self.measured_recall = manifest.get("measured_recall_at_10")
        if self._index.d != self.dim or len(self) != manifest["count"]:
            raise LoupeError(f"{d}: index file does not match its manifest; rebuild it")
        return self

    def describe(self) -> str:
        return json.dumps({"kind": self.kind, "count": len(self), "nprobe": self.nprobe, "recall@10": self.measured_recall})
