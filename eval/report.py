"""Figures for agreement reports: coder x coder heatmaps (PNG, every code, paged), calibration."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.classifiers.calibration import expected_calibration_error

PANELS_PER_PAGE = 12


def _short(label: str, width: int = 18) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def heatmaps(panels: dict[str, tuple[np.ndarray, np.ndarray]], coders: Sequence[str], path: Path, *, metric: str,
             per_page: int = PANELS_PER_PAGE) -> list[Path]:
    """Coder x coder heatmaps, one panel per entry of `panels` (code -> ((n, n) values, (n, n) units
    compared)), every entry drawn: pages of `per_page` panels, the first at `path`, the next at
    path-2.png, path-3.png, ... The grid is sized to the panels on the page. Each cell shows the
    value and, beneath it, n (units both coders coded) while the coders are few enough to write in.
    Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(panels.items())
    pages = [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]
    n = len(coders)
    labels = [_short(c) for c in coders]
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    written = []
    for p, page in enumerate(pages, 1):
        cols = min(3, len(page)) or 1
        rows = int(np.ceil(len(page) / cols)) or 1
        size = min(12.0, 3.2 + 0.45 * n)
        fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.8), squeeze=False, layout="constrained")
        image = None
        for ax, (code, (m, counts)) in zip(axes.ravel(), page, strict=False):  # the grid may have spare cells
            image = ax.imshow(np.ma.masked_invalid(m), vmin=-0.2, vmax=1.0, cmap=cmap)
            ax.set_title(_short(code, 40), fontsize=11)
            if n <= 30:
                font = 9 if n <= 8 else 7 if n <= 16 else 5
                ax.set_xticks(range(n), labels=labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=font)
                ax.set_yticks(range(n), labels=labels, fontsize=font)
                if n <= 12:
                    for i in range(n):
                        for j in range(n):
                            if i == j:
                                continue
                            text = "—" if np.isnan(m[i, j]) else f"{m[i, j]:.2f}"
                            ax.text(j, i, f"{text}\nn={int(counts[i, j])}", ha="center", va="center", fontsize=font - 1, linespacing=1.1)
            else:
                ax.set_xlabel(f"{n} coders")
                ax.set_xticks([])
                ax.set_yticks([])
        for ax in axes.ravel()[len(page):]:
            ax.axis("off")
        if image is not None:
            fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=metric)
        suffix = f" (page {p} of {len(pages)})" if len(pages) > 1 else ""
        fig.suptitle(f"Pairwise {metric}; n = units both coders coded; grey: none in common{suffix}")
        target = path if p == 1 else path.with_name(f"{path.stem}-{p}{path.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=110)
        plt.close(fig)
        written.append(target)
    return written


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
