"""The learned head, calibration, and review ordering (issue: learning from decisions)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from eval.simulation import predict_labels
from models.classifiers.calibration import (
    MIN_DECISIONS,
    expected_calibration_error,
    fit_calibrator,
)
from models.classifiers.learned import (
    Decision,
    HeadConfig,
    LearnedHead,
    context_features,
    exclusive_labels,
    latest_labels,
    segment_features,
)
from models.classifiers.review import (
    entropy,
    nearest_accepted,
    review_order,
    review_segments,
    with_none,
)


def _toy(n_docs: int = 60, per_doc: int = 6, dim: int = 16, seed: int = 0):
    """Documents whose first segment is 'intro' and last is 'outro' whatever their words say."""
    rng = np.random.default_rng(seed)
    n = n_docs * per_doc
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [f"d{i // per_doc}" for i in range(n)]
    ords = [i % per_doc for i in range(n)]
    truth = np.zeros((n, 2), dtype=np.int8)
    truth[np.array(ords) == 0, 0] = 1
    truth[np.array(ords) == per_doc - 1, 1] = 1
    return vectors, docs, ords, truth


def test_context_features_use_neighbours_and_position():
    v, docs, ords, _ = _toy(n_docs=2, per_doc=3, dim=4)
    f = context_features(v, docs, ords)
    assert f.shape == (6, 3 * 4 + 4)
    assert np.allclose(f[1, 4:8], v[0]) and np.allclose(f[1, 8:12], v[2])  # previous, next
    assert np.allclose(f[0, 4:8], 0) and np.allclose(f[2, 8:12], 0)  # document edges
    assert f[0, -3] == 1 and f[2, -2] == 1 and f[3, -3] == 1  # first / last flags restart per document
    # order of rows does not matter, only (document, ordinal)
    perm = np.random.default_rng(1).permutation(6)
    assert np.allclose(context_features(v[perm], [docs[i] for i in perm], [ords[i] for i in perm]), f[perm])


def test_head_learns_what_context_decides_and_keeps_prior_without_decisions():
    v, docs, ords, truth = _toy()
    f = context_features(v, docs, ords)
    prior = np.full(truth.shape, 0.3)
    head = LearnedHead(["intro", "outro"], HeadConfig(seed=0))
    assert np.allclose(head.fit(f, [], prior).predict_proba(f, prior), prior)  # no decisions: the prior
    train = np.arange(0, 180)
    decisions = [Decision(int(i), code, bool(truth[i, k])) for i in train for k, code in enumerate(["intro", "outro"])]
    head.fit(f, decisions, prior)
    p = head.predict_proba(f[180:], prior[180:])
    assert ((p >= 0.5) == truth[180:].astype(bool)).mean() > 0.95  # position alone decides here
    assert head.calibrated("intro")


def test_per_code_head_adds_its_evidence_to_the_prior_and_keeps_its_scale():
    """The blend rule (docs/learning.md, "Learning that starts well"): p = sigmoid(logit(prior) +
    evidence_weight * z_head). A decided code stays on the prior's scale, so decisions that agree with
    a saturated prior do not pull it below the codes nobody has decided yet (the old interpolation
    lam * z_head + (1 - lam) * z_prior did, whatever the decisions said)."""
    from models.classifiers.calibration import logit

    rng = np.random.default_rng(0)
    f = rng.normal(size=(200, 8)).astype(np.float32)
    prior = np.full((200, 2), 0.999)  # a zero-shot prior near 1 for both codes
    decisions = [Decision(i, "a", bool(f[i, 0] > 0)) for i in range(25)]  # 25 decisions, code "a" only
    head = LearnedHead(["a", "b"], HeadConfig(seed=0)).fit(f, decisions, prior)
    p = head.predict_proba(f[25:], prior[25:])
    assert np.allclose(p[:, 1], 0.999)  # no decisions: the prior
    z = head._models["a"].decision_function(f[25:])
    assert np.allclose(p[:, 0], 1 / (1 + np.exp(-(logit(prior[25:, 0]) + HeadConfig().evidence_weight * z))))
    yes = f[25:, 0] > 0
    assert (p[yes, 0] > p[yes, 1]).mean() > 0.8  # accepted where the analyst said yes: above the undecided code
    assert (p[~yes, 0] < p[~yes, 1]).mean() > 0.8  # and below it where they said no
    old = LearnedHead(["a", "b"], HeadConfig(seed=0)).fit(f, decisions, prior)._blend(z, prior[25:, 0], 25)
    assert (old[yes] < 0.999).all()  # the old rule lowered even the yes rows


def test_latest_decision_wins_and_training_is_reproducible_and_fast():
    assert latest_labels([Decision(1, "a", True), Decision(1, "a", False)], ["a"]) == {"a": {1: 0}}
    rng = np.random.default_rng(0)
    f = rng.normal(size=(12_000, 64)).astype(np.float32)
    y = (f[:, 0] + 0.3 * rng.normal(size=12_000) > 0)
    decisions = [Decision(i, c, bool(y[i] if c == "a" else not y[i])) for i in range(5000) for c in ("a", "b")]
    prior = np.full((12_000, 2), 0.5)
    t0 = time.perf_counter()
    p1 = LearnedHead(["a", "b"], HeadConfig(seed=3)).fit(f, decisions, prior).predict_proba(f, prior)
    assert time.perf_counter() - t0 < 60  # generous; the benchmark reports the real figure
    p2 = LearnedHead(["a", "b"], HeadConfig(seed=3)).fit(f, decisions, prior).predict_proba(f, prior)
    assert np.array_equal(p1, p2)


def test_calibration_minimum_and_effect():
    rng = np.random.default_rng(0)
    assert fit_calibrator(np.full(MIN_DECISIONS - 1, 0.9), np.ones(MIN_DECISIONS - 1, int)) is None
    true_p = rng.uniform(0, 1, 400)
    y = (rng.uniform(0, 1, 400) < true_p).astype(int)
    overconfident = np.clip(true_p**0.3, 0, 1)  # scores that overstate the probability
    cal = fit_calibrator(overconfident, y)
    assert cal is not None
    assert expected_calibration_error(cal(overconfident), y) < expected_calibration_error(overconfident, y)


def test_review_order_prefers_uncertain_diverse_and_covers_codes():
    proba = np.array([[0.5, 0.99], [0.5, 0.01], [0.9, 0.5], [0.1, 0.2]])
    vectors = np.eye(4, dtype=np.float32)
    vectors[1] = vectors[0]  # row 1 duplicates row 0
    decided = np.zeros_like(proba, dtype=bool)
    picks = review_order(proba, vectors, decided, 3)
    assert picks[0] in [(0, 0), (1, 0), (2, 1)]
    assert not ({(0, 0), (1, 0)} <= set(picks[:2]))  # the duplicate pair is not back to back
    decided[0, 0] = True
    assert (0, 0) not in review_order(proba, vectors, decided, 8)
    cover = review_order(proba, vectors, decided, 2, mode="coverage", decisions_per_code=[10, 0], min_per_code=5)
    assert cover[0] == (0, 1)  # the most likely segment for the code that has no decisions
    assert entropy(np.array([0.5]))[0] == pytest.approx(1.0)


def test_nearest_accepted_examples():
    v = np.eye(3, dtype=np.float32)
    v[2] = [0.9, 0.1, 0]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    [near] = nearest_accepted(v, [0, 1], [2], k=2)
    assert near[0][0] == 0 and near[0][1] > near[1][1]


def _exclusive_toy(n_docs: int = 80, per_doc: int = 5, dim: int = 6, seed: int = 0):
    """Exclusive roles by position: first = intro, last = outro, the second = none, others = body."""
    v, docs, ords, _ = _toy(n_docs=n_docs, per_doc=per_doc, dim=dim, seed=seed)
    role = np.array([0 if o == 0 else 2 if o == per_doc - 1 else -1 if o == 1 else 1 for o in ords])
    return v, docs, ords, role


def test_exclusive_labels_and_head_learn_every_code_from_every_decision():
    codes = ["intro", "body", "outro"]
    assert exclusive_labels([Decision(1, "body", False), Decision(1, "intro", True), Decision(2, "outro", False)], codes) == {1: (0,), 2: ()}
    v, docs, ords, role = _exclusive_toy()
    f = context_features(v, docs, ords)
    prior = np.full((len(role), 3), 0.2)
    decisions = []
    for i in range(200):  # one decision per segment: the suggestion "body", accepted or replaced
        decisions.append(Decision(i, "body", bool(role[i] == 1)))
        if role[i] in (0, 2):
            decisions.append(Decision(i, codes[role[i]], True))
    head = LearnedHead(codes, HeadConfig(C=1.0, exclusive=True, seed=0)).fit(f, decisions, prior)
    p = head.predict_proba(f[200:], prior[200:])
    pred = predict_labels(p, at_least_one=False, exclusive=True)
    want = np.zeros_like(pred)
    coded = np.flatnonzero(role[200:] >= 0)
    want[coded, role[200:][coded]] = 1
    assert (pred == want).all(axis=1).mean() > 0.95  # including "none" for the second segments
    assert all(head.calibrated(c) for c in codes)
    assert np.all(p >= 0) and np.all(p <= 1)


def test_exclusive_head_keeps_prior_for_codes_without_examples():
    v, docs, ords, role = _exclusive_toy()
    f = context_features(v, docs, ords)
    prior = np.full((len(role), 3), 0.3)
    decisions = [Decision(i, "intro", bool(role[i] == 0)) for i in range(100)]  # intro or none, nothing else
    p = LearnedHead(["intro", "body", "outro"], HeadConfig(exclusive=True, calibrate=False)).fit(f, decisions, prior).predict_proba(f, prior)
    assert np.allclose(p[:, 1:], 0.3) and p[role == 0, 0].mean() > 0.8


def test_segment_features_add_words_to_context():
    v, docs, ords, _ = _toy(n_docs=3, per_doc=2, dim=4)
    texts = ["we propose a tool", "results show gains", "we propose a method", "results show losses", "we propose", "results show"]
    x = segment_features(v, docs, ords, texts)
    assert x.shape[0] == 6 and x.shape[1] > 3 * 4 + 4
    assert np.allclose(x[:, : 3 * 4 + 4].toarray(), context_features(v, docs, ords))
    assert segment_features(v[:2], docs[:2], ords[:2], ["alpha", "beta"]).shape[1] == 3 * 4 + 4  # no shared word: context only


def test_review_segments_margin_diversity_and_exploration():
    proba = np.array([[0.45, 0.44, 0.0], [0.45, 0.44, 0.0], [0.9, 0.05, 0.0], [0.3, 0.3, 0.3], [0.1, 0.1, 0.1]])
    vectors = np.eye(5, dtype=np.float32)
    vectors[1] = vectors[0]  # rows 0 and 1 are the same passage
    assert np.allclose(with_none(proba)[:, -1], [0.11, 0.11, 0.05, 0.1, 0.7])
    picks = review_segments(proba, vectors, np.arange(5), 3, explore=0.0)
    assert picks[0] == (3, 0) and picks[1] in [(0, 0), (1, 0)] and picks[2] == (4, 0)  # smallest margins; the duplicate skipped
    assert sorted(review_segments(proba, vectors, np.array([2, 4]), 5)) == [(2, 0), (4, 0)]  # only open rows, at most all
    rows = [[i for i, _ in review_segments(proba, vectors, np.arange(5), 2, rng=np.random.default_rng(s))] for s in range(20)]
    assert all(r[0] == 3 for r in rows)  # half by margin ...
    assert len({r[1] for r in rows}) >= 3  # ... half at random


def test_segment_ranks_keep_a_segments_suggestions_together():
    from models.classifiers.review import segment_ranks

    proba = np.array([[0.5, 0.45], [0.9, 0.05], [0.34, 0.33], [0.6, 0.1]])
    vectors = np.eye(4, dtype=np.float32)
    rows = np.array([0, 0, 1, 2, 2, 3])
    scores = np.array([0.5, 0.45, 0.9, 0.33, 0.34, 0.6])
    ranks = segment_ranks(proba, vectors, rows, scores, batch=1)
    assert sorted(ranks) == list(range(6))
    order = [int(rows[i]) for i in np.argsort(ranks)]
    assert order[:2] == [2, 2] and scores[np.argsort(ranks)[0]] == 0.34  # the smallest margin first, its top code first
    assert order == sorted(order, key=order.index)  # each segment's suggestions are adjacent


def test_simulation_uses_a_tuned_encoder_only_where_it_proves_itself_on_held_out_decisions():
    from eval.simulation import Tuning, simulate

    v, docs, ords, role = _exclusive_toy(n_docs=120, per_doc=5, dim=6)
    codes = ["intro", "body", "outro"]
    truth = np.zeros((len(role), 3), dtype=np.int8)
    coded = np.flatnonzero(role >= 0)
    truth[coded, role[coded]] = 1
    noise = np.random.default_rng(1).normal(size=v.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    base = noise  # features that say nothing (no context, no position)
    prior = np.full(truth.shape, 0.3)
    train, test = np.arange(0, 400), np.arange(400, 600)
    calls = []

    def knowing(rows, labels):  # an encoder that has learnt the roles from the decisions
        calls.append((len(rows), labels[:3]))
        out = np.zeros_like(v)
        out[np.arange(len(role)), np.where(role >= 0, role, 3)] = 1.0
        return out

    def same(rows, labels):  # an encoder that learnt nothing
        return noise

    def featurize(vectors):
        return vectors
    head = HeadConfig(C=1.0, exclusive=True)
    good = simulate(base, v, prior, truth, train, test, codes, checkpoints=(0, 50, 100, 150), tuning=Tuning(knowing, featurize, min_decisions=50), head=head)
    assert [p.tuning.get("used") for p in good.curve] == [None, True, True, True]
    assert good.curve[1].tuning["held_out"] == 20 and calls[0][0] == 30  # first: tuned on 30 of 50, checked on 20
    assert [c[0] for c in calls] == [30, 100, 150]  # then on every decided segment
    assert all(isinstance(lab, tuple) for lab in calls[0][1])
    assert good.curve[-1].macro_kappa > 0.9
    flat = simulate(base, v, prior, truth, train, test, codes, checkpoints=(0, 50, 100, 150), tuning=Tuning(same, featurize, min_decisions=50), head=head)
    assert [p.tuning.get("used") for p in flat.curve] == [None, False, False, False]
    assert flat.curve[-1].tuning["held_out"] >= 20
    assert good.curve[-1].macro_kappa > flat.curve[-1].macro_kappa + 0.3
