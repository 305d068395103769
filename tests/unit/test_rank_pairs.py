"""Review ranks of stored suggestions: uncertainty first, near-duplicates apart, coverage mode."""

from __future__ import annotations

import numpy as np

from models.classifiers.review import rank_pairs


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_most_uncertain_first_and_ranks_are_a_permutation():
    scores = np.array([0.9, 0.5, 0.7, 0.99, 0.55])
    vectors = _unit(np.eye(5))
    ranks = rank_pairs(scores, np.zeros(5, int), vectors)
    assert sorted(ranks) == list(range(5))
    assert list(np.argsort(ranks)) == [1, 4, 2, 0, 3]


def test_near_duplicates_are_not_back_to_back():
    scores = np.array([0.5, 0.51, 0.6])
    vectors = _unit([[1, 0], [1, 0.01], [0, 1]])  # 0 and 1 are near-duplicates
    order = list(np.argsort(rank_pairs(scores, np.zeros(3, int), vectors)))
    assert order == [0, 2, 1]
    # a different code is not held back by a duplicate of another code
    order = list(np.argsort(rank_pairs(scores, np.array([0, 1, 0]), vectors)))
    assert order == [0, 1, 2]


def test_coverage_mode_serves_codes_short_of_decisions_first():
    scores = np.array([0.5, 0.5, 0.95, 0.9, 0.2])
    codes = np.array([0, 0, 1, 1, 1])
    vectors = _unit(np.eye(5))
    order = list(np.argsort(rank_pairs(scores, codes, vectors, mode="coverage", decisions_per_code={0: 10, 1: 8}, min_per_code=10)))
    assert order[:2] == [2, 3]  # code 1 needs two more decisions: its likeliest suggestions come first
    assert order[2:4] == [0, 1]
