"""eval.stability: the model against itself across perturbed runs, and conclusions that flip
(issue 24, item 5)."""

from __future__ import annotations

import numpy as np
import pytest

from eval import stability as st
from eval.agreement import krippendorff_alpha
from models.codebook import seed_codebook


def test_plan_runs_keeps_run_zero_as_configured_and_spreads_the_threshold():
    plans = st.plan_runs(5, threshold=0.5, band=0.05, perturb=("order", "threshold", "examples"), seed=3)
    assert plans[0] == st.RunPlan(0, None, 0.5, None, False, "default")
    assert [round(p.threshold, 4) for p in plans[1:]] == [0.45, 0.4833, 0.5167, 0.55]
    assert len({p.order_seed for p in plans[1:]}) == 4 and all(p.examples_seed is not None for p in plans[1:])
    only_order = st.plan_runs(3, threshold=0.5, perturb=("order",))
    assert all(p.threshold == 0.5 and p.examples_seed is None for p in only_order)
    two = st.plan_runs(4, threshold=0.5, perturb=("encoder",), encoders=("default", "/models/other"))
    assert [p.encoder for p in two] == ["default", "/models/other", "default", "/models/other"]
    with pytest.raises(ValueError, match="at least 2 runs"):
        st.plan_runs(1, threshold=0.5)
    with pytest.raises(ValueError, match="unknown perturbation"):
        st.plan_runs(3, threshold=0.5, perturb=("prompt",))


def test_retest_alpha_is_krippendorff_over_the_runs_as_coders():
    rng = np.random.default_rng(0)
    base = (rng.random((60, 2)) < 0.3).astype(np.int8)
    runs = np.stack([base, base, base.copy()])
    runs[2, :5, 0] = 1 - runs[2, :5, 0]  # run 2 changes five units of code a
    got = st.retest_agreement(runs, ["a", "b"], n_boot=0)
    assert got["b"]["value"] == pytest.approx(1.0) and got["b"]["units_changed"] == 0
    assert got["a"]["units_changed"] == 5
    assert got["a"]["value"] == pytest.approx(krippendorff_alpha(runs[:, :, 0].T.astype(float)))
    assert got["a"]["n_coders"] == 3 and got["a"]["n_units"] == 60
    with pytest.raises(ValueError, match="runs must be"):
        st.retest_agreement(runs, ["a"])


def test_human_agreement_and_majority_treat_minus_one_as_missing():
    human = np.array([[[1], [1], [-1]], [[0], [0], [0]], [[1], [0], [-1]], [[1], [0], [0]], [[-1], [-1], [-1]]], dtype=np.int8)
    alpha = st.human_agreement(human, ["x"], n_boot=0)["x"]
    expected = krippendorff_alpha(np.where(human[:, :, 0] < 0, np.nan, human[:, :, 0]).astype(float))
    assert alpha["value"] == pytest.approx(expected)
    assert st.majority(human)[:, 0].tolist() == [1, 0, 0, 0, -1]  # a tie is not a majority


def test_model_vs_reference_ranges_over_runs_and_skips_units_without_reference():
    ref = np.array([[1], [0], [1], [0], [-1], [1], [0], [0]], dtype=np.int8)
    good = np.where(ref < 0, 0, ref)
    bad = good.copy()
    bad[:2] = 1 - bad[:2]
    got = st.model_vs_reference(np.stack([good, bad]), ref, ["x"])["x"]
    assert got["n_units"] == 7 and got["max"] == pytest.approx(1.0) and got["min"] < 0.6
    assert got["per_run"][1] == pytest.approx(krippendorff_alpha(np.stack([bad[ref[:, 0] >= 0, 0], ref[ref[:, 0] >= 0, 0]], axis=1).astype(float)))


def _runs_with_group_rates(rates: list[tuple[float, float]], n: int = 100) -> tuple[np.ndarray, list[str]]:
    """One code; units 0..n-1 in group "g", n..2n-1 in "h"; run k applies it to the given shares."""
    runs = np.zeros((len(rates), 2 * n, 1), dtype=np.int8)
    for k, (a, b) in enumerate(rates):
        runs[k, : int(a * n), 0] = 1
        runs[k, n : n + int(b * n), 0] = 1
    return runs, ["g"] * n + ["h"] * n


def test_directions_flag_changed_and_flipped_conclusions():
    runs, values = _runs_with_group_rates([(0.5, 0.2), (0.5, 0.25), (0.45, 0.2)])
    found = {d.value: d for d in st.directions(runs, ["x"], "party", values)}
    assert found["g"].signs == [1, 1, 1] and found["g"].verdict == st.STABLE and found["h"].signs == [-1, -1, -1]
    runs, values = _runs_with_group_rates([(0.5, 0.2), (0.3, 0.28), (0.2, 0.5)])
    found = {d.value: d for d in st.directions(runs, ["x"], "party", values)}
    assert found["g"].signs == [1, 0, -1] and found["g"].verdict == st.FLIPPED
    runs, values = _runs_with_group_rates([(0.5, 0.2), (0.3, 0.28)])
    d = {d.value: d for d in st.directions(runs, ["x"], "party", values)}["g"]
    assert d.verdict == st.CHANGED and d.rates[0] == (0.5, 0.2)
    summary = st.summarise_directions(list(st.directions(runs, ["x"], "party", values)))
    assert summary == {"tested": 2, "drawn": 2, "stable": 0, "changed": 2, "flipped": 0, "unstable_share": 1.0}


def test_directions_skip_small_groups_and_unknown_values_and_compare_with_a_reference():
    runs, values = _runs_with_group_rates([(0.5, 0.2), (0.5, 0.2)], n=30)
    values = values[:55] + [""] * 5  # five units of "h" have no value
    assert st.directions(runs, ["x"], "a", values, min_n=26) == []  # "h" has 25 units, so g's rest has 25 too
    assert {(d.value, d.n) for d in st.directions(runs, ["x"], "a", values, min_n=25)} == {("g", 30), ("h", 25)}
    reference = runs[0].copy()
    reference[55:] = -1  # units without a value: the reference lacks them, which changes nothing
    found = st.directions(runs, ["x"], "a", values, reference=reference)
    assert all(d.reference == d.signs[0] for d in found)
    summary = st.summarise_directions(found)
    assert summary["reference_tested"] == 2 and summary["stable_and_as_reference"] == 2


def test_perturbed_codebook_keeps_codes_and_reorders_or_drops_items():
    cb = seed_codebook()
    same = st.perturb_codebook(cb, seed=1)
    assert list(same.codes) == list(cb.codes)
    assert all(sorted(same[p].include) == sorted(cb[p].include) and sorted(same[p].examples) == sorted(cb[p].examples) for p in cb.codes)
    assert any(same[p].include != cb[p].include for p in cb.codes)  # some list is in another order
    dropped = st.perturb_codebook(cb, seed=1, drop_example=True)
    for p in cb.codes:
        for field in ("include", "examples"):
            before, after = getattr(cb[p], field), getattr(dropped[p], field)
            assert len(after) == (len(before) - 1 if len(before) >= 3 else len(before)) and set(after) <= set(before)
    assert all(dropped[p].definition == cb[p].definition and dropped[p].exclude == cb[p].exclude for p in cb.codes)
