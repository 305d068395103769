"""Agreement coefficients: published worked examples, library cross-checks, degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.agreement import (
    brennan_prediger,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    percent_agreement,
    ratings,
    scott_pi,
)
from eval.intervals import bootstrap, estimate, metric_parts, prevalence_bias

N = None

# Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
# Communication, University of Pennsylvania (repository.upenn.edu/asc_papers/43), the example of
# 4 observers x 12 units with missing values. The same data are Gwet (2014), Handbook of
# Inter-Rater Reliability, 4th ed., p. 120 (irrCAC's cac.raw4raters).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
    ],
    dtype=float,
).T

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
# Bulletin 76(5), 378-382: 30 patients, 6 psychiatrists each, 5 diagnoses (kappa = 0.430).
# Raw form as in R irr::diagnoses.
FLEISS_1971 = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
])


def _from_table(table: list[list[int]]) -> np.ndarray:
    """Two-coder unit rows from a q x q contingency table."""
    rows = [(i, j) for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)]
    return np.array(rows)


@pytest.mark.parametrize("level,published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_krippendorff_2011_worked_example(level, published):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == published


def test_fleiss_1971():
    assert round(fleiss_kappa(FLEISS_1971), 3) == 0.430


def test_gwet_2014_handbook_ac1_and_ac2():
    # Gwet (2014), p. 120 data: p_a = 0.818, p_e = 0.190, AC1 = 0.775; AC2 with quadratic weights
    # 0.914 and linear weights 0.859 (values as printed by Gwet's irrCAC package for these data).
    assert round(percent_agreement(KRIPPENDORFF_2011), 3) == 0.818
    assert round(gwet_ac(KRIPPENDORFF_2011), 3) == 0.775
    assert round(gwet_ac(KRIPPENDORFF_2011, "quadratic"), 3) == 0.914
    assert round(gwet_ac(KRIPPENDORFF_2011, "linear"), 3) == 0.859


def test_gwet_2014_two_rater_table():
    # Gwet (2014): 100 pregnant women classified by two abstractors into 3 types (irrCAC
    # cont3x3abstractors): AC1 = 0.849.
    data = _from_table([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    assert round(gwet_ac(data), 3) == 0.849


def test_sas_cohen_example_via_statsmodels_table():
    # The SAS PROC FREQ example reproduced in statsmodels' tests: kappa 0.4842, weighted 0.4701
    data = _from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert round(cohen_kappa(ratings(data, categories=[0, 1, 2])), 4) == 0.4842
    assert round(cohen_kappa(ratings(data, categories=[0, 1, 2]), "linear"), 4) == 0.4701


def test_scott_pi_equals_fleiss_for_two_complete_coders():
    data = _from_table([[20, 5], [10, 15]])
    assert scott_pi(data) == pytest.approx(fleiss_kappa(data), abs=1e-12)


def test_brennan_prediger_by_hand():
    data = _from_table([[20, 5], [10, 15]])  # p_o = 0.7, chance 1/2
    assert brennan_prediger(data) == pytest.approx((0.7 - 0.5) / 0.5)


# -- degenerate inputs ----------------------------------------------------------------------------
def test_one_category_only_is_explained_not_silent():
    data = [[1, 1], [1, 1], [1, 1]]
    assert np.isnan(cohen_kappa(data)) and np.isnan(krippendorff_alpha(data)) and np.isnan(fleiss_kappa(data))
    assert percent_agreement(data) == 1.0
    e = estimate(data, "krippendorff")
    assert np.isnan(e.value) and "every coding falls in one category" in e.note


def test_one_coder_per_unit_and_all_missing():
    for data in ([[1, None], [None, 2]], [[None, None], [None, None]]):
        for metric in ("percent", "fleiss", "krippendorff", "gwet", "bp", "cohen"):
            e = estimate(data, metric)
            assert np.isnan(e.value) and e.note, (data, metric)
    assert "no unit was coded by two or more coders" in estimate([[1, None], [None, 2]], "krippendorff").note
    assert "two coders" in estimate(np.ones((3, 3)), "cohen").note


def test_bad_shapes_and_metrics():
    with pytest.raises(ValueError, match="2-D"):
        ratings([1, 2, 3])
    with pytest.raises(ValueError, match="unknown metric"):
        estimate([[1, 1]], "tau")
    with pytest.raises(ValueError, match="outside the given categories"):
        ratings([[1, 7]], categories=[1, 2])


# -- intervals and diagnostics -------------------------------------------------------------------
def test_bootstrap_is_seeded_and_matches_row_resampling():
    r = ratings(FLEISS_1971)
    stats, value = metric_parts(r, "krippendorff")
    a = bootstrap(stats, value, n_boot=50, seed=3)
    assert np.array_equal(a, bootstrap(stats, value, n_boot=50, seed=3))
    rng = np.random.default_rng(3)
    rows = rng.integers(0, r.n_units, size=(1, r.n_units))[0]  # the first replicate's draw
    assert a[0] == pytest.approx(krippendorff_alpha(FLEISS_1971[rows]), abs=1e-12)


def test_estimate_interval_brackets_value():
    e = estimate(FLEISS_1971, "fleiss", n_boot=500, seed=1)
    assert e.ci_low < e.value < e.ci_high and e.n_units == 30 and e.n_coders == 6 and e.n_pairable == 30


def test_prevalence_and_bias_show_the_kappa_paradox():
    # 90% agreement but a rare category: kappa is low, the prevalence index is high
    data = _from_table([[85, 5], [5, 5]])
    d = prevalence_bias(data)
    assert d["observed_agreement"] == pytest.approx(0.9)
    assert d["prevalence_index"] == pytest.approx(0.8) and d["pabak"] == pytest.approx(0.8)
    assert cohen_kappa(data) < 0.5 < gwet_ac(data)


# -- cross-checks against the libraries that come closest ----------------------------------------
pairs = st.integers(min_value=2, max_value=5).flatmap(
    lambda q: st.lists(st.tuples(st.integers(0, q - 1), st.integers(0, q - 1)), min_size=5, max_size=60).map(lambda rows: (q, rows))
)


@settings(max_examples=150, deadline=None)
@given(pairs, st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_matches_sklearn(qrows, weights):
    from sklearn.metrics import cohen_kappa_score

    q, rows = qrows
    a, b = np.array(rows).T
    ours = cohen_kappa(ratings(np.column_stack([a, b]), categories=list(range(q))), weights)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = cohen_kappa_score(a, b, labels=list(range(q)), weights=weights)
    if np.isnan(theirs):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


complete = st.integers(2, 6).flatmap(
    lambda k: st.integers(2, 5).flatmap(
        lambda q: st.lists(st.lists(st.integers(0, q - 1), min_size=k, max_size=k), min_size=3, max_size=40)
    )
)


@settings(max_examples=150, deadline=None)
@given(complete)
def test_fleiss_matches_statsmodels(rows):
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    data = np.array(rows)
    table, _ = aggregate_raters(data)
    with np.errstate(all="ignore"):
        theirs = sm_fleiss(table)
    ours = fleiss_kappa(data)
    if np.isnan(theirs) or not np.isfinite(theirs):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


with_missing = st.integers(2, 6).flatmap(
    lambda k: st.lists(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=k, max_size=k), min_size=2, max_size=40)
)


@settings(max_examples=200, deadline=None)
@given(with_missing, st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_matches_krippendorff_package(rows, level):
    import krippendorff

    data = np.array(rows, dtype=float)
    ours = krippendorff_alpha(data, level)
    try:
        with np.errstate(all="ignore"):
            theirs = krippendorff.alpha(reliability_data=data.T, level_of_measurement=level)
    except (ValueError, ZeroDivisionError):
        assert np.isnan(ours)  # the package refuses what we report as undefined
        return
    if np.isnan(theirs):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)
