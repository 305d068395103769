"""Per-code calibration of scores into probabilities, and how to check it.

A code is calibrated once it has at least MIN_DECISIONS decisions with at least MIN_PER_CLASS
accepts and MIN_PER_CLASS rejects: Platt scaling (a logistic fit on the score's logit) below
ISOTONIC_FROM decisions, isotonic regression from there on (isotonic needs more data not to
overfit). Below the minimum, scores are left as they are and reported as uncalibrated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MIN_DECISIONS = 30
MIN_PER_CLASS = 5
ISOTONIC_FROM = 500

Calibrator = Callable[[np.ndarray], np.ndarray]


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    out: np.ndarray = np.log(q / (1 - q))
    return out


def fit_calibrator(scores: np.ndarray, labels: np.ndarray) -> Calibrator | None:
    """A monotone map from scores to probabilities, or None below the documented minimum."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    if len(y) < MIN_DECISIONS or min(np.bincount(y, minlength=2)) < MIN_PER_CLASS:
        return None
    if len(y) >= ISOTONIC_FROM:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
        return lambda p: iso.predict(np.asarray(p, dtype=float))
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logit(s).reshape(-1, 1), y)
    return lambda p: platt.predict_proba(logit(p).reshape(-1, 1))[:, 1]


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of (bin share) * |mean prob - accept rate|."""
    p = np.asarray(probs, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    if len(p) == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)
