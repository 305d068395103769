"""Weighted agreement and small-sample intervals against published worked examples (issue 24).

Each case cites where its number is published."""

from __future__ import annotations

import numpy as np
import pytest

from eval.agreement import cohen_kappa, gwet_ac, percent_agreement, ratings, weight_matrix
from eval.agreement_small import analytic, small_sample
from eval.intervals import BOOTSTRAP, SMALL_N, estimate

# R irr's `anxiety` data (3 raters, 20 subjects, ratings 1-6), as printed in statsmodels'
# test_inter_rater.py, which records R irr's kappa2 output on it.
ANXIETY = np.array([
    3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3,
    3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4,
    2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2,
]).reshape(20, 3, order="F")


def _from_table(table: list[list[int]]) -> np.ndarray:
    """Two coders' ratings (units x 2) from a contingency table, categories by row/column index."""
    t = np.asarray(table)
    pairs = [(i, j) for i in range(t.shape[0]) for j in range(t.shape[1]) for _ in range(t[i, j])]
    return np.asarray(pairs, dtype=float)


# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: 100 pregnancies classified by two
# abstractors as Ectopic, AIU, NIU (in that order); irrCAC's dataset cont3x3abstractors.
ABSTRACTORS = _from_table([[13, 0, 0], [0, 20, 7], [0, 4, 56]])


def test_gwet_abstractors_linear_weighted_kappa():
    # Gwet (2014): linearly weighted kappa 0.843 on the 3x3 abstractors table
    assert cohen_kappa(ABSTRACTORS, "linear") == pytest.approx(0.843, abs=5e-4)
    # irrCAC docs (table.CAC(cont3x3abstractors, weights="quadratic").gwet()): AC2 0.94024, AC1 0.84933
    assert gwet_ac(ABSTRACTORS, "quadratic") == pytest.approx(0.94024, abs=5e-6)
    assert gwet_ac(ABSTRACTORS) == pytest.approx(0.84933, abs=5e-6)
    # ... and weighted percent agreement p_a 0.9725 (quadratic), 0.89 (unweighted)
    assert percent_agreement(ABSTRACTORS, "quadratic") == pytest.approx(0.9725, abs=5e-5)
    assert percent_agreement(ABSTRACTORS) == pytest.approx(0.89, abs=5e-5)


def test_scikit_learn_weighting_example():
    # scikit-learn, sklearn/metrics/tests/test_classification.py::test_cohen_kappa, "Weighting example"
    y1 = np.array([0] * 46 + [1] * 44 + [2] * 10)
    y2 = np.array([0] * 50 + [1] * 40 + [2] * 10)
    data = np.column_stack([y1, y2])
    assert cohen_kappa(data) == pytest.approx(0.9315, abs=5e-5)
    assert cohen_kappa(data, "linear") == pytest.approx(0.9412, abs=5e-5)
    assert cohen_kappa(data, "quadratic") == pytest.approx(0.9541, abs=5e-5)


def test_r_irr_kappa2_anxiety_index_distance():
    # R irr kappa2(anxiety[,2:3], "equal") = 0.1459075, "squared" = 0.2520325 (recorded in
    # statsmodels' test_inter_rater.py::test_cohens_kappa_irr); category 5 is unused by both
    # raters, and irr's weights run over the observed levels 1, 2, 3, 4, 6 (index distance)
    pair = ANXIETY[:, 1:]
    assert cohen_kappa(pair, "linear") == pytest.approx(0.1459075, abs=5e-8)
    assert cohen_kappa(pair, "quadratic") == pytest.approx(0.2520325, abs=5e-8)
    assert cohen_kappa(pair) == pytest.approx(-0.006289308, abs=5e-9)
    # R irr's help page for kappa2: kappa2(anxiety[,1:2], "squared") prints Kappa = 0.297
    assert cohen_kappa(ANXIETY[:, :2], "quadratic") == pytest.approx(0.297, abs=5e-4)
    # Value distance (|6 - 4| counts twice |4 - 3|) gives another number, 0.1262 (issue 24)
    assert cohen_kappa(pair, "linear", distance="value") == pytest.approx(0.1262, abs=5e-5)


def test_index_and_value_distance_agree_when_every_category_is_used():
    r = ratings(ANXIETY[:, :2])  # both raters together use 1..6
    assert np.allclose(weight_matrix(r, "linear", "index"), weight_matrix(r, "linear", "value"))
    with pytest.raises(ValueError, match="weight distance"):
        weight_matrix(r, "linear", "rank")  # type: ignore[arg-type]


# Gwet's 4 raters x 12 units with missing ratings (irrCAC's cac.raw4raters / raw_4raters)
NAN = np.nan
RAW4 = np.array([[1, 1, NAN, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
                 [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [NAN, 5, 5, 5], [NAN, NAN, 1, 1], [NAN, NAN, 3, NAN]])


def test_analytic_standard_errors_match_irrcac():
    # irrCAC (Gwet), raw.CAC(raw_4raters).gwet(): AC1 0.77544, se 0.14295; .fleiss(): 0.76117, se 0.15302
    r = ratings(RAW4)
    ac1 = analytic(r, "gwet", weight_matrix(r))
    fleiss = analytic(r, "fleiss", weight_matrix(r))
    assert ac1 is not None and fleiss is not None
    assert (round(ac1.value, 5), round(ac1.se, 5)) == (0.77544, 0.14295)
    assert (round(fleiss.value, 5), round(fleiss.se, 5)) == (0.76117, 0.15302)


def test_small_n_is_flagged_and_its_interval_does_not_collapse():
    four = np.array([[1, 1], [0, 0], [1, 1], [0, 0]], dtype=float)  # 4 units, every one agreed
    e = estimate(four, "krippendorff", n_boot=500, seed=0)
    assert e.value == pytest.approx(1.0)
    assert e.small_n and "4 pairable units" in (e.small_n_reason or "")
    assert e.interval_method == SMALL_N
    assert e.ci_high == 1.0 and e.ci_low < 0.5  # the bootstrap said [1.0, 1.0]
    assert (e.n_units, e.n_pairable, e.n_values, e.n_minority) == (4, 4, 8, 4)


def test_minority_category_flag_and_large_n_bootstrap():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 200).astype(float)
    b = np.where(rng.random(200) < 0.8, a, 1 - a)
    e = estimate(np.column_stack([a, b]), "cohen", n_boot=300)
    assert not e.small_n and e.interval_method == BOOTSTRAP and e.ci_low < e.value < e.ci_high
    rare = np.zeros((200, 2))
    rare[0, 0] = 1.0  # one "present" coding among 400
    n_values, minority, reason = small_sample(ratings(rare))
    assert (n_values, minority) == (400, 1) and reason is not None and "outside the most frequent" in reason
    e = estimate(rare, "gwet", n_boot=300)
    assert e.small_n and e.interval_method == SMALL_N and e.ci_low < e.value


def test_units_nobody_coded_are_dropped():
    data = np.array([[1, 1], [0, 0], [NAN, NAN], [1, 0]] * 10)
    e = estimate(data, "percent", n_boot=200)
    assert e.n_units == 30 and e.n_pairable == 30
