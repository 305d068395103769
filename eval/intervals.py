"""Bootstrap confidence intervals, diagnostics beside kappa, and the Estimate a report shows.

Intervals are percentile bootstrap intervals over units (units resampled with replacement, seeded,
so a run is reproducible), except for a value flagged `small_n` (eval.agreement_small: fewer than
20 pairable units, or fewer than 2 pairable values outside the modal category), whose interval is
the wider of an analytic one and a Wilson one, and never has width 0. Units nobody coded are
dropped first (they carry no information, and would only change the bootstrap's draws). Every
Estimate carries the numbers behind it (units, pairable units, coders, pairable values) and,
whenever its value is NaN, a note saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eval.agreement import (
    Distance,
    Level,
    Ratings,
    Weights,
    alpha_value,
    bp_value,
    cohen_value,
    coincidence_stats,
    fleiss_value,
    gwet_stats,
    gwet_value,
    joint_table,
    pair_stats,
    percent_agreement,
    percent_value,
    ratings,
    scott_value,
    weight_matrix,
)
from eval.agreement_small import small_sample, small_sample_interval

METRICS = ("percent", "cohen", "scott", "fleiss", "krippendorff", "gwet", "bp")
METRIC_NAMES = {
    "percent": "percent agreement",
    "cohen": "Cohen's kappa",
    "scott": "Scott's pi",
    "fleiss": "Fleiss' kappa",
    "krippendorff": "Krippendorff's alpha",
    "gwet": "Gwet's AC1/AC2",
    "bp": "Brennan-Prediger",
}
TWO_CODER = {"cohen", "scott"}
BOOTSTRAP = "percentile bootstrap"
SMALL_N = "small n: the wider of analytic (Gwet 2014; Cohen: Fleiss-Cohen-Everitt 1969) and Wilson"


@dataclass(frozen=True)
class Estimate:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_units: int
    n_pairable: int
    n_coders: int
    note: str | None = None
    n_values: int = 0  # codings in pairable units (the values agreement rests on)
    n_minority: int = 0  # of them, outside the most frequent category
    small_n: bool = False  # fewer than MIN_UNITS pairable units or MIN_MINORITY minority values
    small_n_reason: str | None = None
    interval_method: str | None = None  # BOOTSTRAP, SMALL_N, or None (no interval)

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(self).items()}


def metric_parts(
    r: Ratings, metric: str, *, level: Level = "nominal", weights: Weights = None, distance: Distance = "index"
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(per-unit statistics (n_units, s), value of their sums (..., s) -> (...)) for a metric.

    `level` applies to Krippendorff's alpha, `weights` to the other coefficients.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    w = weight_matrix(r, weights, distance)
    if metric == "krippendorff":
        return coincidence_stats(r), lambda sums: alpha_value(sums, r, level)
    if metric in TWO_CODER:
        fn = cohen_value if metric == "cohen" else scott_value
        return pair_stats(r), lambda sums: fn(sums, r, w)
    fn = {"percent": percent_value, "fleiss": fleiss_value, "gwet": gwet_value, "bp": bp_value}[metric]
    return gwet_stats(r, w), lambda sums: fn(sums, r, w)


def bootstrap(
    stats: np.ndarray, value: Callable[[np.ndarray], np.ndarray], *, n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """float (n_boot,): the coefficient over units resampled with replacement (NaNs kept).

    Each replicate is a vector of multiplicities (how often each unit was drawn); the summed
    statistics of all replicates in a block are one matrix product.
    """
    rng = np.random.default_rng(seed)
    n = stats.shape[0]
    block = int(max(1, min(200, 20_000_000 // max(n, 1))))
    out = []
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        multiplicity = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        out.append(np.asarray(value(multiplicity @ stats), dtype=float).reshape(b))
    return np.concatenate(out) if out else np.empty(0)


def _note(r: Ratings, metric: str, value: float) -> str | None:
    if not np.isnan(value):
        return None
    if metric in TWO_CODER and r.n_coders != 2:
        return f"needs exactly two coders ({r.n_coders} given)"
    if r.pairable == 0:
        return "no unit was coded by two or more coders, so there is nothing to compare"
    used = (r.counts.sum(axis=0) > 0).sum()
    if used <= 1:
        pa = percent_agreement(r)
        return (f"undefined: every coding falls in one category, so chance agreement is 1 "
                f"(observed agreement is {pa:.3f}; see percent agreement or Gwet's AC1)")
    return "undefined for these data"


def estimate(
    data: object,
    metric: str,
    *,
    level: Level = "nominal",
    weights: Weights = None,
    distance: Distance = "index",
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> Estimate:
    """The coefficient with its interval (n_boot=0: no interval): a percentile bootstrap over units,
    or for a small-n value the interval of eval.agreement_small (see the module docstring)."""
    r = ratings(data)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    r = r.take(np.flatnonzero(r.per_unit >= 1))
    n_values, minority, reason = small_sample(r)
    nan = float("nan")
    if (metric in TWO_CODER and r.n_coders != 2) or r.q == 0:
        return Estimate(metric, nan, nan, nan, r.n_units, r.pairable, r.n_coders, _note(r, metric, nan),
                        n_values, minority, reason is not None, reason)
    stats, value_fn = metric_parts(r, metric, level=level, weights=weights, distance=distance)
    value = float(value_fn(stats.sum(axis=0)))
    lo = hi = nan
    method = None
    note = _note(r, metric, value)
    if n_boot and not np.isnan(value) and reason is not None:
        got = small_sample_interval(r, metric, weight_matrix(r, weights, distance), level=level, ci=ci)
        if got is not None:
            (lo, hi), method = got, SMALL_N
    elif n_boot and not np.isnan(value):
        samples = bootstrap(stats, value_fn, n_boot=n_boot, seed=seed)
        ok = samples[~np.isnan(samples)]
        if len(ok) >= max(10, n_boot // 2):
            alpha = (1 - ci) / 2
            lo, hi = (float(x) for x in np.quantile(ok, [alpha, 1 - alpha]))
            method = BOOTSTRAP
        else:
            note = f"too few resamples were defined ({len(ok)} of {n_boot}) for an interval"
    return Estimate(metric, value, lo, hi, r.n_units, r.pairable, r.n_coders, note, n_values, minority, reason is not None, reason, method)


def prevalence_bias(data: object) -> dict[str, float | list[float]]:
    """Diagnostics for two coders beside kappa (Byrt, Bishop and Carlin 1993).

    Returns the coders' category distributions, the bias index (half the summed absolute
    difference between them) and, for two categories, the prevalence index |p_11 - p_00| and
    PABAK = 2 p_o - 1. A large prevalence index explains a low kappa at high agreement (the
    kappa paradox).
    """
    r = ratings(data)
    p = joint_table(r)
    row, col = p.sum(axis=1), p.sum(axis=0)
    out: dict[str, float | list[float]] = {
        "coder_a_distribution": row.round(6).tolist(),
        "coder_b_distribution": col.round(6).tolist(),
        "bias_index": float(np.abs(row - col).sum() / 2),
        "observed_agreement": float(np.trace(p)),
    }
    if r.q == 2:
        out["prevalence_index"] = float(abs(p[1, 1] - p[0, 0]))
        out["pabak"] = float(2 * np.trace(p) - 1)
    return out


def positive_share(r: Ratings) -> float:
    """For binary ratings with categories [0, 1] (as CodingTable.code_ratings builds them):
    the share of codings that are 1, i.e. the code's prevalence."""
    total = r.counts.sum()
    return float(r.counts[:, 1].sum() / total) if total and r.q == 2 else float("nan")
