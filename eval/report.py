"""Figures for agreement reports: coder x coder heatmaps (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.classifiers.calibration import expected_calibration_error


def heatmaps(matrices: dict[str, np.ndarray], coders: Sequence[str], path: Path, *, metric: str, max_panels: int = 12) -> Path:
    """One coder x coder heatmap per entry of `matrices` (code -> (n, n) values), in a grid, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(matrices.items())[:max_panels]
    n = len(coders)
    cols = min(3, len(items)) or 1
    rows = int(np.ceil(len(items) / cols)) or 1
    size = min(12, 3 + 0.12 * n)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    image = None
    for ax, (code, m) in zip(axes.ravel(), items, strict=False):  # the grid may have spare cells
        image = ax.imshow(np.ma.masked_invalid(m), vmin=-0.2, vmax=1.0, cmap=cmap)
        ax.set_title(code, fontsize=11)
        if n <= 30:
            ax.set_xticks(range(n), labels=list(coders), rotation=90, fontsize=8)
            ax.set_yticks(range(n), labels=list(coders), fontsize=8)
            if n <= 12:
                for i in range(n):
                    for j in range(n):
                        if not np.isnan(m[i, j]):
                            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7)
        else:
            ax.set_xlabel(f"{n} coders")
            ax.set_xticks([])
            ax.set_yticks([])
    for ax in axes.ravel()[len(items):]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=metric)
    fig.suptitle(f"Pairwise {metric} (grey: no units in common)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, bins: int = 10) -> Path:
    """PNG: mean predicted probability against observed accept rate per bin, one line per curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    for name, (p, y) in curves.items():
        p, y = np.asarray(p, float).ravel(), np.asarray(y, float).ravel()
        which = np.minimum((p * bins).astype(int), bins - 1)
        xs = [p[which == b].mean() for b in range(bins) if (which == b).any()]
        ys = [y[which == b].mean() for b in range(bins) if (which == b).any()]
        ax.plot(xs, ys, "o-", label=f"{name} (ECE {expected_calibration_error(p, y, bins):.3f})")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed share accepted")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
