"""Clustering segment embeddings into candidate themes.

Two methods, chosen by corpus size unless the caller says otherwise:

- **HDBSCAN** (scikit-learn) for small and medium corpora: density-based, finds the number of
  clusters itself and leaves segments that belong nowhere as noise (label -1). It runs on a
  reduction of the embeddings, as in BERTopic: UMAP to 5 dimensions (cosine, 15 neighbours,
  min_dist 0), which keeps the local neighbourhoods density estimation needs. PCA is the
  fallback (`reduction="pca"`, or when umap-learn is not installed); on sentence embeddings it
  keeps too little local structure, and HDBSCAN then tends to return one cluster holding most of
  the corpus (measured in scripts/bench_cluster.py).
- **k-means** (faiss, spherical) for large corpora: k = sqrt(n / 2) by default, every segment in
  a cluster, linear in n.

Both are deterministic given the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from models.base import LoupeError

Method = Literal["auto", "hdbscan", "kmeans"]


class ClusteringError(LoupeError):
    """The segments cannot be clustered as asked (too few, bad options)."""


@dataclass(frozen=True)
class ClusterConfig:
    method: Method = "auto"
    kmeans_above: int = 20_000  # "auto" uses k-means above this many segments
    min_cluster_size: int | None = None  # HDBSCAN; default: max(5, n / 200)
    min_samples: int | None = None  # HDBSCAN; default: min_cluster_size
    selection: Literal["eom", "leaf"] = "eom"  # HDBSCAN cluster selection (leaf: finer clusters, more noise)
    reduction: Literal["auto", "umap", "pca", "none"] = "auto"  # before HDBSCAN; auto: UMAP when installed, else PCA
    k: int | None = None  # k-means; default: sqrt(n / 2)
    reduce_dims: int = 5
    seed: int = 0


@dataclass
class Clustering:
    labels: np.ndarray  # (n,) int, -1 = noise
    method: str
    centroids: np.ndarray  # (n_clusters, d) L2-normalised mean embedding per label 0..n_clusters-1
    params: dict[str, Any]

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = x / np.maximum(norms, 1e-12)
    return out


def centroids_of(vectors: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    out = np.zeros((n_clusters, vectors.shape[1]), np.float32)
    keep = labels >= 0
    np.add.at(out, labels[keep], vectors[keep])
    return _normalise(out).astype(np.float32)


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Labels 0, 1, 2... from the largest cluster down (ties by first member), noise stays -1."""
    ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # by size, then by first member
    mapping = np.full(int(labels.max()) + 2 if labels.size else 1, -1, dtype=np.int64)
    mapping[ids[order]] = np.arange(len(ids))
    return np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1).astype(np.int64)


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def reduce(x: np.ndarray, how: str, dims: int, seed: int) -> tuple[np.ndarray, str]:
    """The embeddings in `dims` dimensions for density clustering; returns (z, the method used)."""
    n = x.shape[0]
    dims = min(dims, x.shape[1], n - 2)
    if how == "none" or dims < 2:
        return x, "none"
    if how == "auto":
        how = "umap" if umap_available() and n > 20 else "pca"
    if how == "umap":
        if not umap_available():
            raise ClusteringError("reduction='umap' needs the umap-learn package (pip install umap-learn)")
        import umap

        reducer = umap.UMAP(n_components=dims, n_neighbors=min(15, n - 1), min_dist=0.0, metric="cosine", random_state=seed, n_jobs=1)
        return reducer.fit_transform(x).astype(np.float64), "umap"
    if how != "pca":
        raise ClusteringError(f"unknown reduction {how!r}; use auto, umap, pca or none")
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, random_state=seed, svd_solver="randomized").fit_transform(x).astype(np.float64), "pca"


def _hdbscan(x: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, dict[str, Any]]:
    from sklearn.cluster import HDBSCAN

    n = x.shape[0]
    mcs = config.min_cluster_size or max(5, round(n / 200))
    check_sizes(n, config)
    z, how = reduce(x, config.reduction, config.reduce_dims, config.seed)
    model = HDBSCAN(min_cluster_size=mcs, min_samples=config.min_samples or None, cluster_selection_method=config.selection, copy=True)
    labels = model.fit_predict(z)
    return labels, {"min_cluster_size": mcs, "min_samples": config.min_samples or mcs, "reduction": how, "reduce_dims": int(z.shape[1]),
                    "selection": config.selection}


def check_sizes(n: int, config: ClusterConfig) -> None:
    """Refuse options that need more segments than there are (ClusteringError names the option)."""
    for name in ("min_cluster_size", "min_samples", "k"):
        value = getattr(config, name)
        if value is not None and value > n:
            raise ClusteringError(f"{name}={value} needs at least {value} segments to cluster; there are {n}")


def _kmeans(x: np.ndarray, config: ClusterConfig) -> tuple[np.ndarray, dict[str, Any]]:
    import faiss

    n = x.shape[0]
    k = config.k or max(2, min(1000, round(math.sqrt(n / 2))))
    if k > n:
        raise ClusteringError(f"k-means with k={k} needs at least {k} segments; there are {n}")
    km = faiss.Kmeans(x.shape[1], k, niter=25, nredo=3, seed=config.seed, spherical=True, verbose=False, max_points_per_centroid=256)
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    _, assign = km.index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    return assign[:, 0].astype(np.int64), {"k": k, "niter": 25, "nredo": 3}


def cluster_embeddings(vectors: np.ndarray, config: ClusterConfig = ClusterConfig()) -> Clustering:
    """Cluster L2-normalised embeddings; see the module docstring for the methods."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ClusteringError(f"clustering needs at least 3 segments; got {x.shape[0] if x.ndim == 2 else 0}")
    method = config.method
    if method == "auto":
        method = "kmeans" if x.shape[0] > config.kmeans_above else "hdbscan"
    if method not in ("hdbscan", "kmeans"):
        raise ClusteringError(f"unknown clustering method {config.method!r}; use auto, hdbscan or kmeans")
    x = _normalise(x)
    labels, params = _hdbscan(x, config) if method == "hdbscan" else _kmeans(x, config)
    labels = _relabel_by_size(labels)
    n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
    params.update(seed=config.seed, n=int(x.shape[0]), noise=int((labels < 0).sum()))
    return Clustering(labels=labels, method=method, centroids=centroids_of(x, labels, n_clusters), params=params)
