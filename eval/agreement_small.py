"""Small samples: when a coefficient's n is too small to trust, and an interval that does not collapse.

A value is flagged `small_n` when it rests on fewer than MIN_UNITS pairable units (units coded by
two or more coders), or on fewer than MIN_MINORITY pairable values outside the most frequent
category (for present/absent data: fewer than two "present", or two "absent", codings). A
percentile bootstrap is unreliable there: on 4 units that all agree every resample agrees too, so
it reports [1.0, 1.0].

A flagged value's interval is the wider of two (both at the same confidence level):
- analytic: the linearised variance of Gwet (2014, Handbook of Inter-Rater Reliability, 4th ed.,
  ch. 5), as the irrCAC package computes it for percent agreement, Brennan-Prediger, Fleiss' kappa,
  Gwet's AC1/AC2 and Krippendorff's alpha (raw data, missing codings allowed), with a t quantile on
  n - 1 degrees of freedom; for Cohen's kappa, the large-sample variance of Fleiss, Cohen and
  Everitt (1969) from statsmodels; Scott's pi uses Fleiss' formula on the units both coders coded;
- Wilson: the Wilson score interval of the observed agreement p_a over the pairable units,
  carried through the coefficient's chance correction, (p - p_e) / (1 - p_e), with p_e held at its
  observed value. This one never has width 0 (4 agreeing units: p_a in [0.51, 1]).
Both bounds are clipped to the coefficient's range. The analytic variance alone collapses too when
every unit agrees (each unit's term equals the mean), which is why the Wilson bound is kept.

Functions are pure: Ratings and a weight matrix in, floats out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.agreement import Level, Ratings, coincidences, distance_matrix

MIN_UNITS = 20
MIN_MINORITY = 2


def pairable_values(r: Ratings) -> np.ndarray:
    """int (q,): codings per category over the pairable units (the values agreement rests on)."""
    keep = r.per_unit >= 2
    return np.asarray(r.counts[keep].sum(axis=0))


def small_sample(r: Ratings) -> tuple[int, int, str | None]:
    """(pairable values, pairable values outside the modal category, reason it is small or None)."""
    per_cat = pairable_values(r)
    n_values = int(per_cat.sum())
    minority = int(n_values - per_cat.max()) if per_cat.size else 0
    reasons = []
    if r.pairable < MIN_UNITS:
        reasons.append(f"{r.pairable} pairable units (fewer than {MIN_UNITS})")
    if minority < MIN_MINORITY:
        reasons.append(f"{minority} pairable values outside the most frequent category (fewer than {MIN_MINORITY})")
    return n_values, minority, "; ".join(reasons) or None


def _gwet_parts(r: Ratings, w: np.ndarray, metric: str) -> tuple[float, float, float, np.ndarray] | None:
    """(coefficient, p_a, p_e, per-unit linearised terms) over units with one coding or more."""
    c = r.counts[r.per_unit >= 1].astype(float)
    m = c.sum(axis=1)
    n, q = c.shape
    multi = m >= 2
    n2 = int(multi.sum())
    if n2 == 0 or n < 2:
        return None
    sum_q = (c * (c @ w.T - 1)).sum(axis=1)
    den = np.where(multi, m * (m - 1), 1)
    pa_i = np.where(multi, sum_q / den, 0.0)
    pa = float(pa_i[multi].mean())
    pi = (c / m[:, None]).mean(axis=0)
    tw = float(w.sum())
    if metric == "percent":
        pe, pe_i = 0.0, np.zeros(n)
    elif metric == "bp":
        pe = tw / q**2 if q >= 2 else 1.0
        pe_i = np.full(n, pe)
    elif metric == "gwet":
        if q < 2:
            return None
        pe = tw / (q * (q - 1)) * float((pi * (1 - pi)).sum())
        pe_i = tw / (q * (q - 1)) * (c @ (1 - pi)) / m
    elif metric in ("fleiss", "scott"):
        pe = float(pi @ w @ pi)
        pe_i = c @ ((w + w.T) / 2 @ pi) / m
    else:
        raise ValueError(metric)
    if pe >= 1:
        return None
    coef = (pa - pe) / (1 - pe)
    ivec = (n / n2) * (pa_i - pe * multi) / (1 - pe)
    ivec = ivec - 2 * (1 - coef) * (pe_i - pe) / (1 - pe)
    return coef, pa, pe, ivec


def _alpha_parts(r: Ratings, level: Level) -> tuple[float, float, float, np.ndarray] | None:
    """Krippendorff's alpha in Gwet's agreement form (irrCAC's krippen.alpha.raw): agreement weights
    1 - d / max(d) from the level's distances, which leave alpha unchanged."""
    keep = r.per_unit >= 2
    c = r.counts[keep].astype(float)
    n = c.shape[0]
    if n < 2:
        return None
    d = distance_matrix(r, level, coincidences(r).sum(axis=1))
    w = 1 - d / d.max() if d.max() > 0 else np.ones_like(d)
    m = c.sum(axis=1)
    m_bar = float(m.mean())
    eps = 1 / m.sum()
    sum_q = (c * (c @ w.T - 1)).sum(axis=1)
    pa_prime = float((sum_q / (m_bar * (m - 1))).mean())
    pa = (1 - eps) * pa_prime + eps
    pi = (c / m_bar).mean(axis=0)
    pe = float(pi @ w @ pi)
    if pe >= 1:
        return None
    alpha = (pa - pe) / (1 - pe)
    alpha_prime = (pa_prime - pe) / (1 - pe)
    pa_i = sum_q / (m_bar * (m - 1)) - pa * (m - m_bar) / m_bar
    pe_i = c @ ((w + w.T) / 2 @ pi) / m_bar - pe * (m - m_bar) / m_bar
    ivec = (pa_i - pe) / (1 - pe) - 2 * (1 - alpha_prime) * (pe_i - pe) / (1 - pe)
    # the terms are centred on alpha' (irrCAC), the reported value is alpha
    return alpha, pa, pe, ivec - alpha_prime + alpha


def _cohen_parts(r: Ratings, w: np.ndarray) -> tuple[float, float, float, float] | None:
    """(kappa, p_o, p_e, standard error) from the two coders' joint table (statsmodels)."""
    from statsmodels.stats.inter_rater import cohens_kappa

    both = (r.codes >= 0).all(axis=1)
    if both.sum() < 2:
        return None
    table = np.zeros((r.q, r.q))
    np.add.at(table, (r.codes[both, 0], r.codes[both, 1]), 1)
    p = table / table.sum()
    po = float((w * p).sum())
    pe = float(p.sum(axis=1) @ w @ p.sum(axis=0))
    if pe >= 1:
        return None
    with np.errstate(invalid="ignore"):  # a perfect table's variance rounds below 0: taken as 0
        res = cohens_kappa(table, weights=1 - w)  # statsmodels takes disagreement weights
    se = float(res.std_kappa)
    return float(res.kappa), po, pe, 0.0 if np.isnan(se) else se


def _wilson(p: float, n: int, z: float) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(centre - half), float(centre + half)


@dataclass(frozen=True)
class Analytic:
    """A coefficient with its analytic standard error: df None means a normal quantile."""

    value: float
    pa: float
    pe: float
    se: float
    n: int  # pairable units the Wilson bound counts
    df: int | None


def analytic(r: Ratings, metric: str, w: np.ndarray, *, level: Level = "nominal") -> Analytic | None:
    """The coefficient's analytic standard error (see the module docstring); None when it cannot
    be formed (fewer than two units, or chance agreement 1)."""
    if metric == "cohen":
        parts = _cohen_parts(r, w)
        if parts is None:
            return None
        value, pa, pe, se = parts
        return Analytic(value, pa, pe, se, int((r.codes >= 0).all(axis=1).sum()), None)
    if metric == "krippendorff":
        got, n_terms, n = _alpha_parts(r, level), r.pairable, r.pairable
    elif metric == "scott":
        both = (r.codes >= 0).all(axis=1)
        got = _gwet_parts(r.take(np.flatnonzero(both)), w, "scott")
        n_terms = n = int(both.sum())
    else:
        got, n_terms, n = _gwet_parts(r, w, metric), int((r.per_unit >= 1).sum()), r.pairable
    if got is None:
        return None
    value, pa, pe, ivec = got
    se = float(np.sqrt(((ivec - value) ** 2).sum() / (n_terms * (n_terms - 1))))
    return Analytic(float(value), pa, pe, se, n, n_terms - 1)


def small_sample_interval(r: Ratings, metric: str, w: np.ndarray, *, level: Level = "nominal", ci: float = 0.95) -> tuple[float, float] | None:
    """The interval of a flagged value: the wider of the analytic and the Wilson interval (see the
    module docstring); None when neither can be formed."""
    from scipy import stats

    a = analytic(r, metric, w, level=level)
    if a is None:
        return None
    q = float(stats.norm.ppf(0.5 + ci / 2)) if a.df is None else float(stats.t.ppf(0.5 + ci / 2, a.df))
    z = float(stats.norm.ppf(0.5 + ci / 2))
    p_lo, p_hi = _wilson(min(max(a.pa, 0.0), 1.0), max(a.n, 1), z)
    lo = min(a.value - q * a.se, (p_lo - a.pe) / (1 - a.pe))
    hi = max(a.value + q * a.se, (p_hi - a.pe) / (1 - a.pe))
    floor = 0.0 if metric == "percent" else -1.0
    return max(floor, lo), min(1.0, hi)
