"""How well clusters match human codes: adjusted mutual information, purity, and whether a code
left out of the codebook surfaces as a candidate cluster."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from models.discovery.clustering import Clustering
from models.discovery.describe import ClusterInfo, apply_coverage


def purity(truth: np.ndarray, labels: np.ndarray) -> float:
    """Share of clustered units whose cluster's majority label is their own (noise, label -1, left out)."""
    keep = labels >= 0
    if not keep.any():
        return 0.0
    total = 0
    for c in np.unique(labels[keep]):
        total += Counter(truth[labels == c].tolist()).most_common(1)[0][1]
    return total / int(keep.sum())


def cluster_agreement(truth: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """AMI and purity on clustered units, AMI with noise as one more cluster, and the noise share."""
    from sklearn.metrics import adjusted_mutual_info_score

    keep = labels >= 0
    return {
        "ami": float(adjusted_mutual_info_score(truth[keep], labels[keep])) if keep.sum() > 1 else 0.0,
        "ami_noise_as_cluster": float(adjusted_mutual_info_score(truth, labels)),
        "purity": purity(truth, labels),
        "noise": float(1 - keep.mean()),
        "clusters": int(labels.max() + 1) if keep.any() else 0,
    }


def leave_one_out(clustering: Clustering, clusters: list[ClusterInfo], codes_per_unit: list[set[str]], left_out: str,
                  texts: list[str], *, coverage_threshold: float = 0.5, majority: float = 0.5) -> dict[str, Any]:
    """Coverage measured without `left_out` (as if the analysts' codebook lacked it): does a cluster
    made mostly of its units become a candidate code? Returns the candidates' shares of it."""
    carried = [cs - {left_out} for cs in codes_per_unit]
    has = np.array([left_out in cs for cs in codes_per_unit])
    apply_coverage(clusters, carried, texts, coverage_threshold=coverage_threshold)
    rows = []
    for c in clusters:
        share = float(has[c.members].mean())
        rows.append({"label": c.label, "size": c.size, "share": round(share, 3), "coverage": round(c.coverage, 3), "candidate": c.candidate})
    cands = [r for r in rows if r["candidate"]]
    surfaced = [r for r in cands if r["share"] >= majority]
    in_surfaced = sum(int(has[c.members].sum()) for c in clusters if any(r["label"] == c.label for r in surfaced))
    return {
        "code": left_out, "units": int(has.sum()), "base_rate": round(float(has.mean()), 3),
        "candidates": len(cands), "surfaced": len(surfaced) > 0,
        "best_candidate_share": max((r["share"] for r in cands), default=0.0),
        "recall_in_surfaced": round(in_surfaced / max(int(has.sum()), 1), 3),
    }
