"""After coding: matrix queries, code counts and co-occurrence over coded units.

A unit is a segment with the codes that currently apply to it (by any coder) and the attributes
of its document and speaker ("document:site", "speaker:sector"). A row or column of a matrix is
either a code (a code matches its sub-codes too, so a top-level code counts everything beneath
it) or one value of an attribute. Cells count distinct segments (or documents) and keep the
passages behind them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from os import PathLike
from typing import IO, Any, Literal

import numpy as np


@dataclass(frozen=True)
class Unit:
    segment_id: int
    document: str
    ordinal: int
    text: str
    speaker: str | None
    codes: frozenset[str]
    coders: dict[str, frozenset[str]] = field(default_factory=dict)  # code -> coders who apply it
    attributes: dict[str, Any] = field(default_factory=dict)


def under(code: str, axis: str) -> bool:
    """Whether `code` is `axis` or one of its sub-codes."""
    return code == axis or code.startswith(axis + "/")


@dataclass(frozen=True)
class Axis:
    label: str
    codes: tuple[str, ...] = ()  # a code entry: these codes and their sub-codes
    attribute: tuple[str, Any] | None = None  # an attribute entry: (name, value)

    def has_code(self, code: str) -> bool:
        return any(under(code, c) for c in self.codes)

    def test(self, u: Unit) -> bool:
        if self.attribute is not None:
            return bool(u.attributes.get(self.attribute[0]) == self.attribute[1])
        return any(self.has_code(x) for x in u.codes)


def code_axis(codes: list[str]) -> list[Axis]:
    return [Axis(c, codes=(c,)) for c in codes]


def attribute_axis(units: list[Unit], name: str, values: list[Any] | None = None) -> list[Axis]:
    """One entry per value of the attribute (the values found, sorted, unless given)."""
    found = values if values is not None else sorted({u.attributes[name] for u in units if u.attributes.get(name) is not None}, key=str)
    return [Axis(f"{name}={v}", attribute=(name, v)) for v in found]


def group_axis(groups: dict[str, list[str]]) -> list[Axis]:
    """Named groups of codes (code groups, or themes): a unit belongs when any of its codes is under one of them."""
    return [Axis(name, codes=tuple(codes)) for name, codes in groups.items()]


def _agreement(inside: list[Unit], row: Axis) -> float | None:
    """Among the cell's segments coded by two or more coders, the share where every one of them
    applies the row's code(s): a cell-level percent agreement between coders (None for an
    attribute row, or when no segment has two coders)."""
    if not row.codes:
        return None
    rated = [u for u in inside if len({w for ws in u.coders.values() for w in ws}) >= 2]
    if not rated:
        return None
    agree = 0
    for u in rated:
        everyone = {w for ws in u.coders.values() for w in ws}
        applying = {w for code, ws in u.coders.items() if row.has_code(code) for w in ws}
        agree += applying == everyone
    return agree / len(rated)


def matrix(units: list[Unit], rows: list[Axis], cols: list[Axis], measure: Literal["segments", "documents", "agreement"] = "segments",
           passages: int = 50) -> dict[str, Any]:
    """Counts per (row, column) and the passages behind each cell (the first `passages` of them).
    measure "agreement": the share of the cell's segments coded by two or more coders on which they all agree."""
    counts: list[list[Any]] = [[0] * len(cols) for _ in rows]
    cells: dict[str, list[dict[str, Any]]] = {}
    row_hits = [[r.test(u) for u in units] for r in rows]
    col_hits = [[c.test(u) for u in units] for c in cols]
    for i, r in enumerate(rows):
        for j in range(len(cols)):
            inside = [u for k, u in enumerate(units) if row_hits[i][k] and col_hits[j][k]]
            if measure == "agreement":
                value = _agreement(inside, r)
                counts[i][j] = None if value is None else round(value, 4)
            else:
                counts[i][j] = len({u.document for u in inside}) if measure == "documents" else len(inside)
            if inside:
                cells[f"{i},{j}"] = [{"segment_id": u.segment_id, "document": u.document, "speaker": u.speaker, "text": u.text,
                                      "codes": sorted(u.codes)} for u in inside[:passages]]
    return {"rows": [r.label for r in rows], "cols": [c.label for c in cols], "measure": measure, "counts": counts, "passages": cells}


def code_counts(units: list[Unit], codes: list[str]) -> list[dict[str, Any]]:
    """Per code (with its sub-codes): coded segments, documents and coders."""
    out = []
    for code in codes:
        hit = [u for u in units if any(under(x, code) for x in u.codes)]
        coders = {who for u in hit for x, whos in u.coders.items() if under(x, code) for who in whos}
        out.append({"code": code, "segments": len(hit), "documents": len({u.document for u in hit}), "coders": len(coders)})
    return out


def cooccurrence(units: list[Unit], codes: list[str], window: int = 0) -> dict[str, Any]:
    """Segments where both codes apply, within the segment (window 0) or within `window` segments
    of each other in the same document. The diagonal counts each code's segments."""
    index = {(u.document, u.ordinal): u for u in units}
    has = {c: {(u.document, u.ordinal) for u in units if any(under(x, c) for x in u.codes)} for c in codes}
    counts = np.zeros((len(codes), len(codes)), dtype=np.int64)
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            near = 0
            for doc, o in has[a]:
                if any((doc, o + d) in has[b] for d in range(-window, window + 1) if (doc, o + d) in index):
                    near += 1
            counts[i, j] = near
    return {"codes": codes, "window": window, "counts": counts.tolist(), "segments": dict(Counter({c: len(h) for c, h in has.items()}))}


def matrix_csv(result: dict[str, Any]) -> str:
    """The matrix's counts as CSV: a header of column labels, then one row per row label."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([""] + result["cols"])
    for label, row in zip(result["rows"], result["counts"], strict=True):
        writer.writerow([label] + ["" if v is None else v for v in row])
    return out.getvalue()


def save_heatmap(result: dict[str, Any], target: str | PathLike[str] | IO[bytes], title: str = "") -> None:
    """The matrix as a heatmap PNG (a path or a binary file object)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array([[np.nan if v is None else v for v in row] for row in result["counts"]], dtype=float).reshape(len(result["rows"]), len(result["cols"]))
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * max(1, len(result["cols"])), 1.2 + 0.45 * max(1, len(result["rows"]))), dpi=110)
    ax.imshow(counts, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(result["cols"])), result["cols"], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(result["rows"])), result["rows"], fontsize=8)
    top = np.nanmax(counts) if counts.size and not np.isnan(counts).all() else 0
    for (i, j), v in np.ndenumerate(counts):
        label = "—" if np.isnan(v) else (f"{v:.2f}" if result["measure"] == "agreement" else f"{int(v)}")
        ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white" if top and v > top / 2 else "black")
    ax.set_title(title or f"coded {result['measure']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(target, format="png")
    plt.close(fig)
