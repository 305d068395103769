"""Server-side pictures for the dashboard and the report (PNG): code frequency by document or by a
case attribute (bar chart), and code co-occurrence (heatmap).

Invariants: the counts are those of the code-counts and matrix queries (service.analysis.matrix:
coded segments, a code counting its sub-codes, over the codings the caller may see); nothing is
written. Figures are drawn with matplotlib's object API (Figure + the Agg canvas, no pyplot), so
concurrent requests share no global state. Every bar and cell carries its number; long labels are
shortened with an ellipsis, and the figure grows with the number of codes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

import numpy as np
from sqlalchemy.orm import Session

from eval.analysis import cooccurrence, under
from service.analysis.matrix import _codes, units
from service.errors import Invalid
from service.projects.access import Caller
from service.review.visibility import visible_coders
from service.storage.tables import Project

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_GROUPS = 10  # bars per code: the 9 largest groups, then "other"


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def frequency_counts(session: Session, *, project: Project, coder_ids: list[int] | None, by: Literal["document", "attribute"],
                     attribute: str | None = None, codes: str = "top") -> tuple[list[str], list[str], np.ndarray]:
    """(codes, groups, int (n_codes, n_groups)): coded segments of each code in each document, or in
    each value of the attribute (document:NAME or speaker:NAME; segments without a value: "(none)")."""
    if by == "attribute" and (not attribute or not attribute.startswith(("document:", "speaker:"))):
        raise Invalid("by=attribute needs attribute=document:NAME or attribute=speaker:NAME")
    us = units(session, project=project, coder_ids=coder_ids)
    code_list = _codes(session, project, codes)
    key = (lambda u: u.document) if by == "document" else (lambda u: str(u.attributes.get(attribute, "(none)")))
    groups = sorted({key(u) for u in us})
    g_ix = {g: j for j, g in enumerate(groups)}
    counts = np.zeros((len(code_list), len(groups)), dtype=np.int64)
    for u in us:
        for i, c in enumerate(code_list):
            if any(under(x, c) for x in u.codes):
                counts[i, g_ix[key(u)]] += 1
    return code_list, groups, counts


def frequency_png(session: Session, *, project: Project, coder_ids: list[int] | None, by: Literal["document", "attribute"] = "document",
                  attribute: str | None = None, codes: str = "top") -> bytes:
    """Horizontal stacked bars: one bar per code, split by document (or attribute value), the total
    at the bar's end. More than MAX_GROUPS groups: the largest, then "other"."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    code_list, groups, counts = frequency_counts(session, project=project, coder_ids=coder_ids, by=by, attribute=attribute, codes=codes)
    if len(groups) > MAX_GROUPS:
        order = np.argsort(-counts.sum(axis=0), kind="stable")
        keep, rest = order[: MAX_GROUPS - 1], order[MAX_GROUPS - 1:]
        counts = np.column_stack([counts[:, keep], counts[:, rest].sum(axis=1)])
        groups = [groups[j] for j in keep] + [f"other ({len(rest)})"]
    n = max(1, len(code_list))
    fig = Figure(figsize=(10, 1.6 + 0.38 * n), layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["tab10"]
    left = np.zeros(len(code_list))
    y = np.arange(len(code_list))
    for j, g in enumerate(groups):
        ax.barh(y, counts[:, j], left=left, color=cmap(j % 10), label=_short(g, 36))
        left += counts[:, j]
    for i, total in enumerate(left):
        ax.text(total, i, f" {int(total)}", va="center", fontsize=8)
    ax.set_yticks(y, [_short(c) for c in code_list], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("coded segments (a code counts its sub-codes)")
    what = "document" if by == "document" else attribute
    ax.set_title(f"{project.name}: code frequency by {what}", fontsize=10)
    if groups:
        ax.legend(fontsize=7, loc="lower right", title=what, title_fontsize=7)
    else:
        ax.text(0.5, 0.5, "no codings yet", transform=ax.transAxes, ha="center")
    return _png(fig)


def cooccurrence_png(session: Session, *, project: Project, coder_ids: list[int] | None, window: int = 0, codes: str = "all") -> bytes:
    """Code x code heatmap of segments where both codes apply (within `window` segments); the
    diagonal counts each code's segments. Every cell is labelled with its count."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    us = units(session, project=project, coder_ids=coder_ids)
    code_list = _codes(session, project, codes)
    m = np.asarray(cooccurrence(us, code_list, window)["counts"], dtype=float).reshape(len(code_list), len(code_list))
    n = max(1, len(code_list))
    side = min(22.0, 2.5 + 0.42 * n)
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(m, cmap=colormaps["Blues"])
    labels = [_short(c, 24) for c in code_list]
    font = 8 if n <= 20 else 6 if n <= 40 else 5
    ax.set_xticks(range(len(code_list)), labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=font)
    ax.set_yticks(range(len(code_list)), labels, fontsize=font)
    top = m.max() if m.size else 0
    if n <= 40:
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=font - 1, color="white" if top and v > top / 2 else "black")
    fig.colorbar(image, ax=ax, shrink=0.7, label="segments")
    where = "the same segment" if window == 0 else f"within {window} segments"
    ax.set_title(f"{project.name}: code co-occurrence ({where}; diagonal: the code's segments)", fontsize=10)
    return _png(fig)


def frequency_png_for(session: Session, *, project: Project, coder: Caller, by: Literal["document", "attribute"] = "document",
                      attribute: str | None = None, codes: str = "top") -> bytes:
    """frequency_png over the codings `coder` may see (blind projects: their own)."""
    return frequency_png(session, project=project, coder_ids=visible_coders(session, project, coder), by=by, attribute=attribute, codes=codes)


def cooccurrence_png_for(session: Session, *, project: Project, coder: Caller, window: int = 0, codes: str = "all") -> bytes:
    """cooccurrence_png over the codings `coder` may see (blind projects: their own)."""
    return cooccurrence_png(session, project=project, coder_ids=visible_coders(session, project, coder), window=window, codes=codes)
