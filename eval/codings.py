"""Agreement on qualitative codings: multi-label, per code, on the code tree, and model vs humans.

A coding is (unit, coder, code). A coder is taken to have coded a unit when they have at least one
record for it; a record with an empty code means "coded this unit, no code applies". Absence of a
code is only a "no" for units the coder coded; for others it is missing.

Decided codings (a `value` on every record, as Loupe's export/codings writes them): each record is
one decided (unit, coder, code), value 1 applied, 0 rejected, and a code a coder did not decide on
a unit is missing for that coder, not "no" (the review service's reading: a code nobody asked a
coder about is not a "no"). Then every code is analysed per code, as present/absent.

Three views, documented because they answer different questions:
- single-label: each (unit, coder) has one label; the labels are one nominal variable.
- per code (binary): for each code, present/absent per (unit, coder): the agreement NVivo and
  MAXQDA report per code. `overall` gives the mean over codes and the pooled value (all
  unit x code decisions as one binary variable).
- code tree: with hierarchy=True, a parent counts as coded whenever any of its children is
  ("trust/personal" also codes "trust"), so agreement can be read at each level of the tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from eval.agreement import Distance, Level, Ratings, Weights, ratings
from eval.intervals import Estimate, estimate

NO_CODE = ""


@dataclass(frozen=True)
class Coding:
    unit: str
    coder: str
    code: str = NO_CODE
    start: int | None = None
    end: int | None = None
    value: bool | None = None  # decided codings: applied (True) or rejected (False); None: plain codings
    document: str | None = None  # the continuum start/end count in, for span agreement (None: the unit)


def expand_hierarchy(code: str, sep: str = "/") -> list[str]:
    """"a/b/c" -> ["a", "a/b", "a/b/c"]."""
    parts = code.split(sep)
    return [sep.join(parts[: i + 1]) for i in range(len(parts))]


@dataclass
class CodingTable:
    """presence: int8 (n_units, n_coders, n_codes); 1 coded, 0 not coded, -1 unit not coded by coder."""

    units: list[str]
    coders: list[str]
    codes: list[str]
    presence: np.ndarray
    single_label: bool = False
    labels: np.ndarray | None = field(default=None, repr=False)  # object (n_units, n_coders) when single-label

    def code_ratings(self, code: str, coders: Sequence[str] | None = None) -> Ratings:
        """Binary reliability data (units x coders) for one code; None where a coder did not code a unit."""
        k = self.codes.index(code)
        cols = [self.coders.index(c) for c in coders] if coders else list(range(len(self.coders)))
        block = self.presence[:, cols, k].astype(float)
        block[block < 0] = np.nan
        return ratings(block, categories=[0.0, 1.0])

    def label_ratings(self, coders: Sequence[str] | None = None, categories: Sequence[str] | None = None) -> Ratings:
        """The single label as reliability data; `categories` orders the domain (default: sorted)."""
        if self.labels is None:
            raise ValueError("these codings are multi-label: some coder gave a unit more than one code")
        cols = [self.coders.index(c) for c in coders] if coders else list(range(len(self.coders)))
        return ratings(self.labels[:, cols], categories=categories)

    def pooled_ratings(self, coders: Sequence[str] | None = None) -> Ratings:
        """All (unit, code) decisions stacked as units of one binary variable."""
        cols = [self.coders.index(c) for c in coders] if coders else list(range(len(self.coders)))
        block = self.presence[:, cols, :].transpose(0, 2, 1).reshape(-1, len(cols)).astype(float)
        block[block < 0] = np.nan
        return ratings(block, categories=[0.0, 1.0])


def build_table(codings: Iterable[Coding], *, hierarchy: bool = False, codes: Sequence[str] | None = None) -> CodingTable:
    """Collect codings into a CodingTable (see module docstring). Units and coders are sorted; so are
    the codes unless given."""
    rows = list(codings)
    if any(c.value is not None for c in rows):
        return _decided_table(rows, hierarchy=hierarchy, codes=codes)
    units = sorted({c.unit for c in rows})
    coders = sorted({c.coder for c in rows})
    found: set[str] = set()
    per_pair: dict[tuple[str, str], set[str]] = {}
    for c in rows:
        got = per_pair.setdefault((c.unit, c.coder), set())
        if c.code != NO_CODE:
            got.add(c.code)
    single = all(len(v) <= 1 for v in per_pair.values())
    if hierarchy:
        per_pair = {k: {p for code in v for p in expand_hierarchy(code)} for k, v in per_pair.items()}
    for v in per_pair.values():
        found |= v
    code_list = list(codes) if codes is not None else sorted(found)
    u_index = {u: i for i, u in enumerate(units)}
    c_index = {c: i for i, c in enumerate(coders)}
    k_index = {k: i for i, k in enumerate(code_list)}
    presence = np.full((len(units), len(coders), len(code_list)), -1, dtype=np.int8)
    labels = np.full((len(units), len(coders)), None, dtype=object) if single and not hierarchy else None
    for (unit, coder), got in per_pair.items():
        i, j = u_index[unit], c_index[coder]
        presence[i, j, :] = 0
        for code in got:
            if code in k_index:
                presence[i, j, k_index[code]] = 1
        if labels is not None:
            labels[i, j] = next(iter(got)) if got else NO_CODE
    return CodingTable(units, coders, code_list, presence, single_label=labels is not None, labels=labels)


def _decided_table(rows: list[Coding], *, hierarchy: bool, codes: Sequence[str] | None) -> CodingTable:
    """Decided codings: presence -1 unless the coder decided the code on the unit (see module docstring).
    With hierarchy, a parent is applied when any decided child is, and rejected when every decided
    child is rejected (and the parent itself was not applied)."""
    if any(c.value is None for c in rows):
        raise ValueError("decided codings need a value on every record (1 applied, 0 rejected)")
    decided: dict[tuple[str, str], dict[str, bool]] = {}
    for c in rows:
        if c.code == NO_CODE:
            continue
        got = decided.setdefault((c.unit, c.coder), {})
        for k in expand_hierarchy(c.code) if hierarchy else [c.code]:
            got[k] = got.get(k, False) or bool(c.value)
    units = sorted({c.unit for c in rows})
    coders = sorted({c.coder for c in rows})
    code_list = list(codes) if codes is not None else sorted({k for v in decided.values() for k in v})
    u_index = {u: i for i, u in enumerate(units)}
    c_index = {c: i for i, c in enumerate(coders)}
    k_index = {k: i for i, k in enumerate(code_list)}
    presence = np.full((len(units), len(coders), len(code_list)), -1, dtype=np.int8)
    for (unit, coder), got in decided.items():
        for code, applied in got.items():
            if code in k_index:
                presence[u_index[unit], c_index[coder], k_index[code]] = int(applied)
    return CodingTable(units, coders, code_list, presence)


def per_code(
    table: CodingTable,
    metrics: Sequence[str],
    *,
    coders: Sequence[str] | None = None,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    summaries: bool = True,
    weights: Weights = None,
    distance: Distance = "index",
) -> dict[str, dict[str, Estimate]]:
    """{code: {metric: Estimate}} for every code, plus "(mean over codes)" and "(pooled)" when
    `summaries` (leave them out for a single-label variable, where they would double-count).

    Two-coder metrics (cohen, scott) are skipped when more than two coders are compared. Weights
    are passed on (on present/absent data, two categories, they equal the unweighted values).
    """
    cs = list(coders) if coders else table.coders
    usable = [m for m in metrics if not (m in ("cohen", "scott") and len(cs) != 2)]
    out: dict[str, dict[str, Estimate]] = {}
    for code in table.codes:
        r = table.code_ratings(code, cs)
        out[code] = {m: estimate(r, m, ci=ci, n_boot=n_boot, seed=seed, weights=weights, distance=distance) for m in usable}
    if table.codes and summaries:
        mean: dict[str, Estimate] = {}
        for m in usable:
            vals = np.array([out[c][m].value for c in table.codes], dtype=float)
            ok = vals[~np.isnan(vals)]
            value = float(ok.mean()) if len(ok) else float("nan")
            note = None if len(ok) == len(vals) else f"mean of the {len(ok)} codes where it is defined"
            mean[m] = Estimate(m, value, float("nan"), float("nan"), len(table.units), 0, len(cs), note)
        out["(mean over codes)"] = mean
        pooled = table.pooled_ratings(cs)
        out["(pooled)"] = {m: estimate(pooled, m, ci=ci, n_boot=n_boot, seed=seed, weights=weights, distance=distance) for m in usable}
    return out


def pairwise(table: CodingTable, code: str | None, metric: str = "cohen", *, level: Level = "nominal") -> np.ndarray:
    """(n_coders, n_coders) agreement of every coder pair on one code (None: the single label).

    The diagonal is 1; pairs with no unit in common are NaN.
    """
    n = len(table.coders)
    out = np.eye(n)
    for a, b in combinations(range(n), 2):
        pair = [table.coders[a], table.coders[b]]
        r = table.label_ratings(pair) if code is None else table.code_ratings(code, pair)
        v = estimate(r, metric, level=level, n_boot=0).value
        out[a, b] = out[b, a] = v
    return out


def pairwise_n(table: CodingTable, code: str | None) -> np.ndarray:
    """int (n_coders, n_coders): units both coders coded (for `code`, decided it); the diagonal
    counts each coder's own units. The n beside each cell of `pairwise`."""
    if code is None:
        coded = (table.presence >= 0).any(axis=2) if table.presence.size else np.zeros((len(table.units), len(table.coders)), bool)
    else:
        coded = table.presence[:, :, table.codes.index(code)] >= 0
    c = np.asarray(coded, dtype=np.int64)
    return np.asarray(c.T @ c)


def consensus(table: CodingTable, coders: Sequence[str]) -> np.ndarray:
    """int8 (n_units, n_codes): a code is in the consensus when more than half of the given
    coders who coded the unit applied it; -1 where none of them coded the unit."""
    cols = [table.coders.index(c) for c in coders]
    block = table.presence[:, cols, :]
    coded = (block >= 0).sum(axis=1)
    yes = (block == 1).sum(axis=1)
    out = np.where(yes * 2 > coded, 1, 0).astype(np.int8)
    out[coded == 0] = -1
    return out


def coder_vs_rest(
    table: CodingTable, code: str | None = None, metric: str = "cohen", *, min_units: int = 1, n_boot: int = 0, seed: int = 0
) -> dict[str, Estimate]:
    """Each coder against the majority of the other coders, on the units that coder coded.

    code=None uses the single label (the majority label; units where the others tie are left out),
    else presence of that code (the consensus of the others, see `consensus`).
    Coders with fewer than `min_units` comparable units are left out.
    """
    out: dict[str, Estimate] = {}
    for j, coder in enumerate(table.coders):
        others = [c for c in table.coders if c != coder]
        if not others:
            break
        if code is None:
            if table.labels is None:
                raise ValueError("coder_vs_rest without a code needs single-label codings")
            mine = table.labels[:, j]
            rest = _majority_labels(table.labels[:, [table.coders.index(o) for o in others]])
            both = np.array([a is not None and b is not None for a, b in zip(mine, rest, strict=True)])
            pair = np.column_stack([mine[both], rest[both]]).astype(object) if both.any() else np.empty((0, 2), object)
            r = ratings(pair) if len(pair) else None
        else:
            k = table.codes.index(code)
            rest_c = consensus(table, others)[:, k].astype(float)
            mine_c = table.presence[:, j, k].astype(float)
            block = np.column_stack([mine_c, rest_c])
            block[block < 0] = np.nan
            block = block[~np.isnan(block).any(axis=1)]
            r = ratings(block, categories=[0.0, 1.0]) if len(block) else None
        if r is None or r.n_units < min_units:
            continue
        out[coder] = estimate(r, metric, n_boot=n_boot, seed=seed)
    return out


def _majority_labels(block: np.ndarray) -> np.ndarray:
    """Per row, the most frequent non-missing label; None when missing or tied."""
    from collections import Counter

    out = np.full(block.shape[0], None, dtype=object)
    for i, row in enumerate(block):
        counts = Counter(v for v in row if v is not None)
        if counts:
            (top, n), *rest = counts.most_common(2) + [(None, 0)]
            if not rest or rest[0][1] < n:
                out[i] = top
    return out
