"""Cluster-quality measures: purity against scikit-learn's contingency matrix, AMI from
scikit-learn, and the leave-one-code-out check on a constructed case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.cluster import contingency_matrix

from eval.discovery import cluster_agreement, leave_one_out, purity
from models.discovery.clustering import Clustering
from models.discovery.describe import ClusterInfo


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=80))
def test_purity_matches_the_contingency_matrix(pairs):
    truth = np.array([t for t, _ in pairs])
    labels = np.array([c for _, c in pairs])
    m = contingency_matrix(truth, labels)
    assert np.isclose(purity(truth, labels), m.max(axis=0).sum() / len(pairs))


def test_noise_is_left_out_of_purity_and_counted_as_noise():
    truth = np.array(["a", "a", "b", "b", "a"])
    labels = np.array([0, 0, 1, 1, -1])
    scores = cluster_agreement(truth, labels)
    assert scores["purity"] == 1.0 and scores["ami"] == pytest.approx(1.0) and scores["noise"] == pytest.approx(0.2) and scores["clusters"] == 2


def test_a_left_out_code_surfaces_when_its_units_cluster():
    codes = [{"trust"}] * 5 + [{"power"}] * 5 + [set()] * 2
    clustering = Clustering(labels=np.array([0] * 5 + [1] * 5 + [-1] * 2), method="kmeans", centroids=np.zeros((2, 2)), params={})
    clusters = [ClusterInfo(0, 5, list(range(5)), [("trust", 1.0)], [0], {}, {}), ClusterInfo(1, 5, list(range(5, 10)), [("power", 1.0)], [5], {}, {})]
    texts = [f"t{i}" for i in range(12)]
    out = leave_one_out(clustering, clusters, codes, "power", texts)
    assert out["surfaced"] and out["best_candidate_share"] == 1.0 and out["recall_in_surfaced"] == 1.0 and out["candidates"] == 1
    assert not leave_one_out(clustering, clusters, codes, "control", texts)["surfaced"]


def test_matrix_cell_agreement_between_coders():
    from eval.analysis import Unit, attribute_axis, code_axis, matrix

    units = [
        Unit(1, "d", 0, "a", "P1", frozenset({"trust"}), {"trust": frozenset({"ann", "ben"})}, {"speaker:sector": "NHS"}),
        Unit(2, "d", 1, "b", "P1", frozenset({"trust", "power"}), {"trust": frozenset({"ann"}), "power": frozenset({"ben"})}, {"speaker:sector": "NHS"}),
        Unit(3, "d", 2, "c", "P2", frozenset({"trust"}), {"trust": frozenset({"ann"})}, {"speaker:sector": "voluntary"}),
    ]
    result = matrix(units, code_axis(["trust", "power"]), attribute_axis(units, "speaker:sector"), "agreement")
    assert result["counts"] == [[0.5, None], [0.0, None]]  # segment 1 agreed on trust, segment 2 did not; P2 has one coder
    assert matrix(units, code_axis(["trust"]), attribute_axis(units, "speaker:sector"))["counts"] == [[2, 1]]
