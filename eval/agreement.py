"""Agreement coefficients as pure functions on reliability data.

Input: reliability data, an array-like of shape (n_units, n_coders) holding category labels, with
None or NaN where a coder did not code a unit. `ratings(data)` turns it into a `Ratings` object
that every coefficient takes. Categories are the sorted distinct labels, unless the domain is given
(`categories=`). Agreement weights (linear, quadratic) measure the distance between two categories
by their *index* in that ordered domain by default, as R irr's kappa2, scikit-learn and statsmodels
do, so a category nobody used does not widen the scale; `distance="value"` uses the category
values instead (their rank when they are not numbers). Krippendorff's interval and ratio levels
always use the values.

Every multi-coder coefficient follows Gwet (2014, Handbook of Inter-Rater Reliability, 4th ed.)
for missing data: observed agreement over units with two or more codings, chance agreement from
category proportions over units with at least one. Krippendorff's alpha uses the coincidence matrix
(Krippendorff 2011, "Computing Krippendorff's alpha-reliability").

Degenerate inputs (documented per function; none raises, none returns a silent NaN to the user:
`eval.intervals.estimate` attaches a note explaining every NaN):
- no unit coded by two or more coders: NaN (nothing to compare);
- every coding in one category: kappa, pi, Fleiss and alpha are undefined (chance agreement is 1,
  expected disagreement 0): NaN; percent agreement, Brennan-Prediger and Gwet's AC1 stay defined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
Weights = Literal["identity", "linear", "quadratic"] | None
Distance = Literal["index", "value"]
DISTANCES: tuple[Distance, ...] = ("index", "value")


@dataclass(frozen=True)
class Ratings:
    """Reliability data.

    categories: (q,) the category domain, sorted.
    codes: int (n_units, n_coders), index into categories; -1 where missing.
    counts: int (n_units, q): how many coders put unit i in category k.
    """

    categories: np.ndarray
    codes: np.ndarray
    counts: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_coders(self) -> int:
        return int(self.codes.shape[1])

    @property
    def q(self) -> int:
        return int(len(self.categories))

    @property
    def per_unit(self) -> np.ndarray:
        """int (n_units,): codings per unit."""
        return np.asarray(self.counts.sum(axis=1))

    @property
    def pairable(self) -> int:
        """Units coded by at least two coders (the ones that carry agreement information)."""
        return int((self.per_unit >= 2).sum())

    def take(self, rows: np.ndarray) -> Ratings:
        """The same data restricted to (or resampled over) the given unit rows."""
        return Ratings(self.categories, self.codes[rows], self.counts[rows])

    def numeric_values(self) -> np.ndarray:
        """Category values as floats (their rank when they are not numbers)."""
        try:
            return np.asarray(self.categories.astype(float))
        except (TypeError, ValueError):
            return np.arange(self.q, dtype=float)


def _missing_mask(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "fc":
        nan: np.ndarray = np.isnan(arr)
        return nan
    if arr.dtype.kind in "iub":
        return np.zeros(arr.shape, dtype=bool)
    flat = arr.ravel()
    mask = np.fromiter(
        (v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and v == "") for v in flat),
        dtype=bool,
        count=flat.size,
    )
    return mask.reshape(arr.shape)


def _is_sorted(cats: np.ndarray) -> bool:
    try:
        return bool(np.all(cats[:-1] <= cats[1:]))
    except TypeError:
        return False


def ratings(data: object, categories: Sequence[object] | None = None) -> Ratings:
    """Build Ratings from an (n_units, n_coders) array-like; None/NaN/"" mean missing. `categories`
    gives the domain in its order (weights by index distance follow it); default: sorted labels."""
    if isinstance(data, Ratings):
        return data
    arr = np.asarray(data)
    if arr.dtype.kind not in "fciub":
        arr = np.asarray(data, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"reliability data must be 2-D (units x coders), got shape {arr.shape}")
    missing = _missing_mask(arr)
    present = arr[~missing]
    if categories is None:
        cats = np.unique(present) if present.size else np.array([])
    else:
        cats = np.asarray(list(categories))
        extra = set(np.unique(present).tolist()) - set(cats.tolist()) if present.size else set()
        if extra:
            raise ValueError(f"labels outside the given categories: {sorted(map(str, extra))[:5]}")
    codes = np.full(arr.shape, -1, dtype=np.int64)
    if present.size and (categories is None or _is_sorted(cats)):
        codes[~missing] = np.searchsorted(cats, present)
    elif present.size:  # a given domain keeps its order (an ordinal scale need not sort)
        index = {v: i for i, v in enumerate(cats.tolist())}
        codes[~missing] = [index[v] for v in present.tolist()]
    q = len(cats)
    counts = np.zeros((arr.shape[0], max(q, 1)), dtype=np.int64)[:, :q]
    if q:
        rows = np.repeat(np.arange(arr.shape[0]), arr.shape[1]).reshape(arr.shape)[~missing]
        np.add.at(counts, (rows, codes[~missing]), 1)
    return Ratings(categories=cats, codes=codes, counts=counts)


def weight_matrix(r: Ratings, weights: Weights = None, distance: Distance = "index") -> np.ndarray:
    """(q, q) agreement weights: identity (1 on the diagonal), or 1 - |d| (linear) or 1 - d^2
    (quadratic), d the distance between categories k and l scaled to [0, 1]: |k - l| / (q - 1)
    over the ordered domain (distance "index"), or over the category values ("value")."""
    if weights in (None, "identity"):
        return np.eye(r.q)
    if distance not in DISTANCES:
        raise ValueError(f"unknown weight distance {distance!r}; use index or value")
    v = np.arange(r.q, dtype=float) if distance == "index" else r.numeric_values()
    span = v.max() - v.min() if r.q > 1 else 1.0
    d: np.ndarray = np.abs(v[:, None] - v[None, :]) / (span or 1.0)
    if weights == "linear":
        return np.asarray(1.0 - d)
    if weights == "quadratic":
        return np.asarray(1.0 - d**2)
    raise ValueError(f"unknown weights {weights!r}; use identity, linear or quadratic")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(den != 0, num / np.where(den != 0, den, 1), np.nan))


# Each coefficient is written as per-unit sufficient statistics, (n_units, s), and a value
# computed from their sums, (..., s) -> (...). The point estimate sums every unit once; the
# bootstrap (eval.intervals) sums them with resampling multiplicities, all replicates at once.

# -- multi-coder, Gwet's framework ---------------------------------------------------------------
def gwet_stats(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Columns: agreement a_u (units with >= 2 codings), is-pairable, is-coded, c_uk / m_u (q)."""
    m = r.per_unit.astype(float)
    c = r.counts.astype(float)
    multi = m >= 2
    coded = m >= 1
    a = np.zeros(len(m))
    if multi.any():
        cm = c[multi]
        a[multi] = (cm * (cm @ w.T - 1)).sum(axis=1) / (m[multi] * (m[multi] - 1))
    share = np.zeros_like(c)
    share[coded] = c[coded] / m[coded, None]
    return np.column_stack([a, multi, coded, share])


def _pa_pi(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(observed agreement p_a, category proportions pi_k) from summed gwet_stats."""
    pa = _ratio(sums[..., 0], sums[..., 1])
    pi = _ratio(sums[..., 3:], sums[..., 2:3])
    return pa, pi


def percent_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    return _pa_pi(sums)[0]


def fleiss_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    pa, pi = _pa_pi(sums)
    pe = np.einsum("...k,kl,...l->...", pi, w, pi)
    return _ratio(pa - pe, 1 - pe)


def gwet_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    pa, pi = _pa_pi(sums)
    if r.q < 2:
        return np.full(pa.shape, np.nan)
    pe = w.sum() / (r.q * (r.q - 1)) * (pi * (1 - pi)).sum(axis=-1)
    return _ratio(pa - pe, 1 - pe)


def bp_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    pa, _ = _pa_pi(sums)
    if r.q < 2:
        return np.full(pa.shape, np.nan)
    pe = w.sum() / r.q**2
    return _ratio(pa - pe, 1 - pe)


ValueFn = Callable[[np.ndarray, Ratings, np.ndarray], np.ndarray]


def _gwet_family(value_fn: ValueFn, data: object, weights: Weights, distance: Distance = "index") -> float:
    r = ratings(data)
    w = weight_matrix(r, weights, distance)
    return float(value_fn(gwet_stats(r, w).sum(axis=0), r, w))


def percent_agreement(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Share of agreeing coder pairs within units (Gwet's p_a); NaN without a pairable unit."""
    return _gwet_family(percent_value, data, weights, distance)


def fleiss_kappa(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Fleiss' (1971) kappa, generalised to missing codings and weights (Gwet 2014).

    NaN when no unit has two codings, or when every coding is in one category.
    """
    return _gwet_family(fleiss_value, data, weights, distance)


def gwet_ac(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Gwet's AC1 (identity weights) or AC2 (linear/quadratic weights).

    Chance agreement: T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k), T_w the sum of the weights.
    Defined when every coding is in one category (then 1.0 if they all agree); NaN when the
    domain has fewer than two categories or no unit has two codings.
    """
    return _gwet_family(gwet_value, data, weights, distance)


def brennan_prediger(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Brennan and Prediger's (1981) coefficient: chance agreement T_w / q^2 (1/q unweighted)."""
    return _gwet_family(bp_value, data, weights, distance)


# -- two coders ----------------------------------------------------------------------------------
def pair_stats(r: Ratings) -> np.ndarray:
    """(n_units, q*q) one-hot of the (coder A, coder B) category pair; zero rows where either is missing."""
    if r.n_coders != 2:
        raise ValueError(f"this coefficient compares exactly two coders; got {r.n_coders}")
    both = (r.codes >= 0).all(axis=1)
    out = np.zeros((r.n_units, r.q * r.q))
    out[np.flatnonzero(both), r.codes[both, 0] * r.q + r.codes[both, 1]] = 1.0
    return out


def joint_table(data: object) -> np.ndarray:
    """(q, q) proportions p_kl over units coded by both of exactly two coders."""
    r = ratings(data)
    t = pair_stats(r).sum(axis=0).reshape(r.q, r.q)
    return np.asarray(t / t.sum()) if t.sum() else t


def cohen_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    p = sums.reshape(*sums.shape[:-1], r.q, r.q)
    total = p.sum(axis=(-2, -1))
    p = p / np.where(total == 0, 1, total)[..., None, None]
    po = (w * p).sum(axis=(-2, -1))
    pe = np.einsum("...k,kl,...l->...", p.sum(axis=-1), w, p.sum(axis=-2))
    return np.where(total == 0, np.nan, _ratio(po - pe, 1 - pe))


def scott_value(sums: np.ndarray, r: Ratings, w: np.ndarray) -> np.ndarray:
    p = sums.reshape(*sums.shape[:-1], r.q, r.q)
    total = p.sum(axis=(-2, -1))
    p = p / np.where(total == 0, 1, total)[..., None, None]
    pi = (p.sum(axis=-1) + p.sum(axis=-2)) / 2
    po = (w * p).sum(axis=(-2, -1))
    pe = np.einsum("...k,kl,...l->...", pi, w, pi)
    return np.where(total == 0, np.nan, _ratio(po - pe, 1 - pe))


def cohen_kappa(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Cohen's (1960) kappa for two coders; linear/quadratic weights give weighted kappa (1968).

    Units coded by only one of the two are left out. NaN when no unit is coded by both, or when
    chance agreement is 1 (both coders always used the same single category).
    """
    r = ratings(data)
    return float(cohen_value(pair_stats(r).sum(axis=0), r, weight_matrix(r, weights, distance)))


def scott_pi(data: object, weights: Weights = None, distance: Distance = "index") -> float:
    """Scott's (1955) pi for two coders: chance from the pooled category distribution."""
    r = ratings(data)
    return float(scott_value(pair_stats(r).sum(axis=0), r, weight_matrix(r, weights, distance)))


# -- Krippendorff --------------------------------------------------------------------------------
def coincidence_stats(r: Ratings) -> np.ndarray:
    """(n_units, q*q): each pairable unit's contribution (c c^T - diag c) / (m - 1) to the
    coincidence matrix o_ck (Krippendorff 2011)."""
    m = r.per_unit.astype(float)
    keep = m >= 2
    c = r.counts.astype(float)
    out = np.zeros((r.n_units, r.q, r.q))
    ck = c[keep]
    out[keep] = (np.einsum("ni,nj->nij", ck, ck) - np.einsum("ni,ij->nij", ck, np.eye(r.q))) / (m[keep] - 1)[:, None, None]
    return out.reshape(r.n_units, r.q * r.q)


def coincidences(r: Ratings) -> np.ndarray:
    """(q, q) coincidence matrix over pairable units."""
    return np.asarray(coincidence_stats(r).sum(axis=0).reshape(r.q, r.q))


def distance_matrix(r: Ratings, level: Level, n_c: np.ndarray) -> np.ndarray:
    """(..., q, q) squared distances delta^2 for the level; n_c (..., q) are the value totals."""
    q = r.q
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(q), (*n_c.shape[:-1], q, q))
    if level == "ordinal":
        cum = np.concatenate([np.zeros((*n_c.shape[:-1], 1)), np.cumsum(n_c, axis=-1)], axis=-1)
        lo = np.minimum.outer(np.arange(q), np.arange(q))
        hi = np.maximum.outer(np.arange(q), np.arange(q))
        between = cum[..., hi + 1] - cum[..., lo] - (n_c[..., lo] + n_c[..., hi]) / 2
        return np.asarray(between**2)
    v = r.numeric_values()
    if level == "interval":
        d = (v[:, None] - v[None, :]) ** 2
    elif level == "ratio":
        s = v[:, None] + v[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(s == 0, 0.0, ((v[:, None] - v[None, :]) / np.where(s == 0, 1, s)) ** 2)
    else:
        raise ValueError(f"unknown level {level!r}; use nominal, ordinal, interval or ratio")
    return np.broadcast_to(d, (*n_c.shape[:-1], q, q))


def alpha_value(sums: np.ndarray, r: Ratings, level: Level) -> np.ndarray:
    o = sums.reshape(*sums.shape[:-1], r.q, r.q)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    d = distance_matrix(r, level, n_c)
    expected = (n_c[..., :, None] * n_c[..., None, :] * d).sum(axis=(-2, -1))
    observed = (o * d).sum(axis=(-2, -1))
    out = 1.0 - (n - 1) * _ratio(observed, expected)
    return np.where(n <= 1, np.nan, out)


def krippendorff_alpha(data: object, level: Level = "nominal") -> float:
    """Krippendorff's alpha for any number of coders, missing codings and the four levels.

    alpha = 1 - (n - 1) * sum(o_ck d_ck) / sum(n_c n_k d_ck). NaN when fewer than two pairable
    values exist or all pairable values are equal (no expected disagreement).
    """
    r = ratings(data)
    if r.q == 0:
        return float("nan")
    return float(alpha_value(coincidence_stats(r).sum(axis=0), r, level))
