"""Coding-shaped agreement: multi-label per code, the code tree, and the model as a coder."""

from __future__ import annotations

import numpy as np
import pytest

from eval.agreement import cohen_kappa
from eval.benchmark import compare_model
from eval.codings import (
    Coding,
    build_table,
    coder_vs_rest,
    consensus,
    pairwise,
    per_code,
)


def _multi() -> list[Coding]:
    rows = []
    for u in range(40):
        truth = {"trust/personal"} if u % 3 == 0 else ({"power/funding", "trust/personal"} if u % 3 == 1 else set())
        for coder in ("ann", "bob", "cat"):
            codes = set(truth)
            if coder == "bob" and u % 10 == 0:
                codes = {"trust/organisational"}  # bob disagrees now and then, inside the trust family
            if coder == "cat" and u % 7 == 0:
                codes ^= {"power/funding"}
            rows += [Coding(f"u{u}", coder, c) for c in sorted(codes)] or [Coding(f"u{u}", coder, "")]
    return rows


def test_absence_counts_only_where_the_coder_coded_the_unit():
    t = build_table([Coding("u1", "a", "x"), Coding("u1", "b", ""), Coding("u2", "a", "x")])
    r = t.code_ratings("x")
    assert r.codes.tolist() == [[1, 0], [1, -1]]  # b said "no" on u1 and did not code u2


def test_per_code_matches_cohen_on_the_binary_view():
    t = build_table(_multi())
    assert not t.single_label
    res = per_code(t, ["cohen", "krippendorff"], coders=["ann", "bob"], n_boot=0)
    a = t.presence[:, 0, t.codes.index("trust/personal")]
    b = t.presence[:, 1, t.codes.index("trust/personal")]
    assert res["trust/personal"]["cohen"].value == pytest.approx(cohen_kappa(np.column_stack([a, b])))
    assert {"(mean over codes)", "(pooled)"} <= set(res)


def test_tree_level_agreement_is_higher_when_children_differ():
    flat = build_table(_multi())
    tree = build_table(_multi(), hierarchy=True)
    assert "trust" in tree.codes and "trust" not in flat.codes
    leaf = per_code(flat, ["krippendorff"], coders=["ann", "bob"], n_boot=0)["trust/personal"]["krippendorff"].value
    parent = per_code(tree, ["krippendorff"], coders=["ann", "bob"], n_boot=0)["trust"]["krippendorff"].value
    assert parent > leaf


def test_consensus_pairwise_and_coder_vs_rest():
    t = build_table(_multi())
    cons = consensus(t, ["ann", "bob", "cat"])
    k = t.codes.index("trust/personal")
    assert cons[t.units.index("u0"), k] == 1 and cons[t.units.index("u2"), k] == 0
    m = pairwise(t, "power/funding", "cohen")
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1) and np.allclose(m, m.T)
    rest = coder_vs_rest(t, "power/funding", "cohen")
    assert set(rest) == {"ann", "bob", "cat"} and rest["ann"].value > rest["cat"].value


def test_model_inside_below_and_above_the_human_range():
    humans = _multi()
    good = [Coding(c.unit, "model", c.code) for c in humans if c.coder == "ann"]
    rng = np.random.default_rng(0)
    noisy = [Coding(f"u{u}", "model", "trust/personal" if rng.random() < 0.5 else "") for u in range(40)]
    verdicts = {v.code: v.verdict for v in compare_model(build_table(humans + good), "model", n_boot=100)}
    assert verdicts["trust/personal"] in ("inside", "above")
    res = compare_model(build_table(humans + noisy), "model", n_boot=100)
    tp = next(v for v in res if v.code == "trust/personal")
    assert tp.verdict == "below" and tp.model_mean < tp.human_low
    assert set(tp.human_pairs) == {"ann | bob", "ann | cat", "bob | cat"}
    assert res[-1].code == "(pooled)"
    with pytest.raises(ValueError, match="no coder named"):
        compare_model(build_table(humans), "gpt")


def test_single_label_detection_and_majority():
    rows = [Coding("u1", c, lab) for c, lab in (("a", "x"), ("b", "x"), ("c", "y"), ("d", "x"))]
    t = build_table(rows)
    assert t.single_label and t.labels.tolist() == [["x", "x", "y", "x"]]
    rest = coder_vs_rest(t, None, "percent")
    assert rest["c"].value == 0.0 and rest["a"].value == 1.0
    # with a tie among the others (b: x, c: y) there is no majority to compare a with
    tied = coder_vs_rest(build_table(rows[:3]), None, "percent")
    assert "a" not in tied and tied["c"].value == 0.0
