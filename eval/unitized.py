"""Span-level (unitized) agreement on character offsets.

Two measures, for different questions:

- `unitized_alpha`: Krippendorff's alpha for unitizing a continuum (Krippendorff 1995, "On the
  reliability of unitizing contiguous data", Sociological Methodology 25; 2004 textbook). For
  each category every coder's continuum is a sequence of sections: coded spans and gaps. Observed
  disagreement sums, over coder pairs and overlapping sections, the squared differences of the
  span boundaries (two overlapping spans), or the squared length of a span lying inside the
  other coder's gap. Expected disagreement is that of all placements of the same spans and gaps.
  Spans of one category by one coder must not overlap; overlapping ones are merged first
  (adjacent ones stay separate: their shared boundary is itself a coding decision).
  Several documents are laid end to end as one continuum (`concatenate`).

- `segment_overlap_agreement`: the overlap-threshold segment agreement that MAXQDA users know. A
  coded segment agrees when the other coder coded a segment with the same code whose overlap with
  it (intersection over union of the two character ranges) reaches the threshold (default 90%).
  Reported per code and coder pair as matched / total segments. It has no chance correction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class Span:
    coder: str
    category: str
    start: int
    end: int  # exclusive
    document: str = ""


def concatenate(spans: Iterable[Span], lengths: dict[str, int]) -> tuple[list[Span], int]:
    """Lay documents end to end (in sorted id order): spans with global offsets, and the total length."""
    offset, base = 0, {}
    for doc in sorted(lengths):
        base[doc] = offset
        offset += lengths[doc]
    out = []
    for s in spans:
        if s.document not in base:
            raise ValueError(f"span in unknown document {s.document!r}")
        if not 0 <= s.start < s.end <= lengths[s.document]:
            raise ValueError(f"span [{s.start}, {s.end}) lies outside document {s.document!r} (length {lengths[s.document]})")
        out.append(Span(s.coder, s.category, base[s.document] + s.start, base[s.document] + s.end, ""))
    return out, offset


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s < out[-1][1]:  # overlapping; adjacent spans stay separate units
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _sections(units: list[tuple[int, int]], length: int) -> list[tuple[int, int, bool]]:
    """Cover [0, length) with (start, end, valued) sections."""
    out, pos = [], 0
    for s, e in units:
        if s > pos:
            out.append((pos, s, False))
        out.append((s, e, True))
        pos = e
    if pos < length:
        out.append((pos, length, False))
    return out


def _pair_disagreement(a: list[tuple[int, int, bool]], b: list[tuple[int, int, bool]]) -> float:
    """Sum of delta^2 over overlapping sections of two coders (Krippendorff 1995)."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        (sg, eg, vg), (sh, eh, vh) = a[i], b[j]
        if vg and vh:
            total += (sg - sh) ** 2 + (eg - eh) ** 2
        elif vg and sh <= sg and eg <= eh:
            total += (eg - sg) ** 2
        elif vh and sg <= sh and eh <= eg:
            total += (eh - sh) ** 2
        if eg <= eh:
            i += 1
        if eh <= eg:
            j += 1
    return total


def category_disagreements(spans: Sequence[Span], category: str, coders: Sequence[str], length: int) -> tuple[float, float]:
    """(observed, expected) disagreement of one category over a continuum of `length`."""
    r = len(coders)
    units = {c: _merged([(s.start, s.end) for s in spans if s.coder == c and s.category == category]) for c in coders}
    sections = {c: _sections(units[c], length) for c in coders}
    observed = sum(_pair_disagreement(sections[a], sections[b]) for a, b in combinations(coders, 2))
    observed = 2.0 * observed / (r * (r - 1) * length**2)

    lengths = np.array([e - s for c in coders for s, e in units[c]], dtype=float)
    gaps = np.sort(np.array([e - s for c in coders for s, e, v in sections[c] if not v], dtype=float))
    n_c = len(lengths)
    if n_c == 0:
        return observed, 0.0
    # sum over gaps at least as long as l of (gap - l + 1), via suffix sums over sorted gaps
    suffix_sum = np.concatenate([np.cumsum(gaps[::-1])[::-1], [0.0]])
    suffix_cnt = np.arange(len(gaps), -1, -1, dtype=float)
    first = np.searchsorted(gaps, lengths, side="left")
    fits = suffix_sum[first] - (lengths - 1) * suffix_cnt[first]
    total = ((n_c - 1) * (2 * lengths**3 - 3 * lengths**2 + lengths) / 3 + lengths**2 * fits).sum()
    denom = r * length * (r * length - 1) - (lengths * (lengths - 1)).sum()
    expected = float(2.0 / length * total / denom) if denom else 0.0
    return observed, expected


def unitized_alpha(spans: Sequence[Span], *, length: int, coders: Sequence[str] | None = None) -> dict[str, float]:
    """{category: alpha} plus "(all)", where all categories' disagreements are averaged first.

    length: the continuum length (characters). NaN where a category has no expected disagreement.
    """
    cs = list(coders) if coders else sorted({s.coder for s in spans})
    if len(cs) < 2:
        raise ValueError("unitized alpha needs at least two coders")
    cats = sorted({s.category for s in spans})
    out: dict[str, float] = {}
    do_all, de_all = [], []
    for cat in cats:
        do, de = category_disagreements(spans, cat, cs, length)
        out[cat] = 1.0 - do / de if de else float("nan")
        do_all.append(do)
        de_all.append(de)
    if cats:
        mean_de = float(np.mean(de_all))
        out["(all)"] = 1.0 - float(np.mean(do_all)) / mean_de if mean_de else float("nan")
    return out


def segment_overlap_agreement(spans: Sequence[Span], *, threshold: float = 0.9) -> dict[str, dict[str, dict[str, float]]]:
    """{code: {"A | B": {"matched", "segments", "agreement"}}}: see the module docstring."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    by: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for s in spans:
        by[(s.category, s.coder, s.document)].append((s.start, s.end))
    coders = sorted({s.coder for s in spans})
    docs = sorted({s.document for s in spans})
    out: dict[str, dict[str, dict[str, float]]] = {}
    for code in sorted({s.category for s in spans}):
        out[code] = {}
        for a, b in combinations(coders, 2):
            matched = total = 0
            for doc in docs:
                sa, sb = by.get((code, a, doc), []), by.get((code, b, doc), [])
                for mine, theirs in ((sa, sb), (sb, sa)):
                    for start, end in mine:
                        total += 1
                        if any(_overlap(start, end, t, u) >= threshold for t, u in theirs):
                            matched += 1
            if total:
                out[code][f"{a} | {b}"] = {"matched": matched, "segments": total, "agreement": matched / total}
    return out


def _overlap(s: int, e: int, t: int, u: int) -> float:
    inter = max(0, min(e, u) - max(s, t))
    union = max(e, u) - min(s, t)
    return inter / union if union else 0.0
