"""A 2-D map of the segments: PCA by default, UMAP when asked for and installed; saved as JSON
points and as a PNG coloured by cluster and by top code."""

from __future__ import annotations

from collections.abc import Sequence, Set
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from models.discovery.clustering import ClusteringError


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates and the method used. 'umap' needs the umap-learn package."""
    x = np.asarray(vectors, dtype=np.float32)
    if method == "umap":
        try:
            import umap  # optional
        except ImportError:
            raise ClusteringError("the UMAP map needs the umap-learn package (pip install umap-learn); PCA needs nothing") from None
        return umap.UMAP(n_components=2, random_state=seed, metric="cosine").fit_transform(x).astype(np.float32), "umap"
    if method != "pca":
        raise ClusteringError(f"unknown map projection {method!r}; use pca or umap")
    from sklearn.decomposition import PCA

    if x.shape[0] < 3:
        return np.zeros((x.shape[0], 2), np.float32), "pca"
    return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float32), "pca"


def map_points(xy: np.ndarray, labels: np.ndarray, top_codes: list[str | None], ids: Sequence[object]) -> list[dict[str, Any]]:
    return [
        {"id": ids[i], "x": round(float(xy[i, 0]), 5), "y": round(float(xy[i, 1]), 5), "cluster": int(labels[i]), "code": top_codes[i]}
        for i in range(len(ids))
    ]


def save_map_png(path: str | Path | BinaryIO, xy: np.ndarray, labels: np.ndarray, top_codes: list[str | None], *,
                 candidates: Set[int] = frozenset(), title: str = "Segments") -> None:
    """Two panels side by side: by cluster (candidates outlined, noise grey) and by top code."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 6), dpi=110)
    noise = labels < 0
    cmap = plt.get_cmap("tab20")
    clusters_cmap = plt.get_cmap("tab10")
    ax = axes[0]
    ax.scatter(xy[noise, 0], xy[noise, 1], s=3, c="#dddddd", label="noise", linewidths=0)
    for c in np.unique(labels[~noise]):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=7, color=clusters_cmap(int(c) % 10), linewidths=0)
        cx, cy = np.median(xy[m, 0]), np.median(xy[m, 1])
        ax.annotate(str(c), (cx, cy), fontsize=8, weight="bold" if c in candidates else "normal",
                    color="#b00020" if c in candidates else "#222222")
    ax.set_title(f"{title}: clusters (candidate codes in red)")
    ax = axes[1]
    codes = [c or "(no code)" for c in top_codes]
    ranked = [c for c, _ in sorted(((c, codes.count(c)) for c in set(codes)), key=lambda t: -t[1])]
    shown = ranked[:12]
    for k, code in enumerate(shown):
        m = np.array([c == code for c in codes])
        ax.scatter(xy[m, 0], xy[m, 1], s=6, color="#bbbbbb" if code == "(no code)" else cmap(k % 20), label=code, linewidths=0)
    rest = np.array([c not in shown for c in codes])
    if rest.any():
        ax.scatter(xy[rest, 0], xy[rest, 1], s=6, color="#888888", label="(other codes)", linewidths=0)
    ax.legend(fontsize=7, markerscale=2, loc="best", frameon=False)
    ax.set_title(f"{title}: top code")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    if isinstance(path, (str, Path)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
