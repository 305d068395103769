"""A classifier head that learns from analysts' decisions, on a segment and its context.

Features (`context_features`): the segment's embedding, the embeddings of the segments before
and after it in the same document (zeros at the edges), and its position (relative position,
first, last, 1/(1 + ordinal)). Qualitative codes often depend on where a passage sits, not only on
its words: "background" opens an abstract, a conclusion closes it, an answer follows a question.

Per code, a logistic regression is trained on that code's decisions (accepted = 1, rejected = 0;
the latest decision per segment and code wins). Its logit is blended with the zero-shot prior's:

    p = sigmoid(lam * z_head + (1 - lam) * z_prior),   lam = n_c / (n_c + prior_strength)

so a code with few decisions keeps sensible scores from its definition, and a code with many is
driven by the analysts. When enough decisions exist (see calibration.MIN_DECISIONS), the blended
score is calibrated per code on out-of-fold predictions, so scores read as probabilities.
Training is deterministic given the seed; 10,000 decisions train in seconds on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models.classifiers.calibration import Calibrator, fit_calibrator, logit


@dataclass(frozen=True)
class Decision:
    """An analyst's verdict on one code for one segment (row `index` of the feature matrix)."""

    index: int
    code: str
    accepted: bool


@dataclass(frozen=True)
class HeadConfig:
    C: float = 0.5  # inverse regularisation strength of each logistic regression
    prior_strength: float = 8.0  # decisions at which head and prior weigh equally
    calibrate: bool = True
    seed: int = 0


def context_features(vectors: np.ndarray, doc_ids: Sequence[str], ordinals: Sequence[int]) -> np.ndarray:
    """float32 (n, 3 * dim + 4): [own, previous, next, position]; rows follow `vectors`.

    vectors: (n, dim) segment embeddings; doc_ids and ordinals give each segment's document and
    position in it (segments of a document need not be contiguous or sorted).
    """
    n, dim = vectors.shape
    doc = np.asarray(doc_ids)
    ords = np.asarray(ordinals, dtype=np.int64)
    order = np.lexsort((ords, doc))
    prev = np.zeros_like(vectors)
    nxt = np.zeros_like(vectors)
    pos = np.zeros((n, 4), dtype=np.float32)
    start = 0
    while start < n:
        stop = start
        while stop < n and doc[order[stop]] == doc[order[start]]:
            stop += 1
        rows = order[start:stop]
        prev[rows[1:]] = vectors[rows[:-1]]
        nxt[rows[:-1]] = vectors[rows[1:]]
        length = len(rows)
        rank = np.arange(length)
        pos[rows, 0] = rank / max(length - 1, 1)
        pos[rows, 1] = rank == 0
        pos[rows, 2] = rank == length - 1
        pos[rows, 3] = 1.0 / (1.0 + rank)
        start = stop
    return np.hstack([vectors, prev, nxt, pos]).astype(np.float32)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def latest_labels(decisions: Sequence[Decision], codes: Sequence[str]) -> dict[str, dict[int, int]]:
    """{code: {segment index: 0/1}}, the latest decision per (segment, code)."""
    out: dict[str, dict[int, int]] = {c: {} for c in codes}
    for d in decisions:
        if d.code in out:
            out[d.code][d.index] = int(d.accepted)
    return out


class LearnedHead:
    """Per-code logistic regressions on context features, blended with a prior; see module docstring."""

    name = "learned-head"

    def __init__(self, codes: Sequence[str], config: HeadConfig = HeadConfig()) -> None:
        self.codes = list(codes)
        self.config = config
        self._models: dict[str, object] = {}
        self._counts: dict[str, int] = {c: 0 for c in self.codes}
        self._calibrators: dict[str, Calibrator | None] = {c: None for c in self.codes}

    def _new_model(self):  # type: ignore[no-untyped-def]
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.config.C, class_weight="balanced", max_iter=2000, random_state=self.config.seed)

    def fit(self, features: np.ndarray, decisions: Sequence[Decision], prior: np.ndarray) -> "LearnedHead":
        """Train on the decisions. features: (n, f); prior: (n, n_codes) zero-shot scores in [0, 1]."""
        labels = latest_labels(decisions, self.codes)
        self._models = {}
        for k, code in enumerate(self.codes):
            rows = np.fromiter(labels[code].keys(), dtype=np.int64, count=len(labels[code]))
            y = np.fromiter(labels[code].values(), dtype=np.int64, count=len(rows))
            self._counts[code] = len(rows)
            self._calibrators[code] = None
            if len(rows) == 0 or len(np.unique(y)) < 2:
                continue  # the prior alone (a head needs both accepts and rejects)
            model = self._new_model().fit(features[rows], y)
            self._models[code] = model
            if self.config.calibrate:
                oof = self._out_of_fold(features[rows], y, prior[rows, k])
                self._calibrators[code] = fit_calibrator(oof, y) if oof is not None else None
        return self

    def _out_of_fold(self, x: np.ndarray, y: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
        """Blended scores for the decided rows, each predicted by a model that did not see it."""
        from sklearn.model_selection import StratifiedKFold

        if min(np.bincount(y, minlength=2)) < 3:
            return None
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.config.seed)
        out = np.empty(len(y))
        for train, test in folds.split(x, y):
            if len(np.unique(y[train])) < 2:
                return None
            m = self._new_model().fit(x[train], y[train])
            out[test] = self._blend(m.decision_function(x[test]), prior[test], len(train))
        return out

    def _blend(self, z_head: np.ndarray, prior: np.ndarray, n: int) -> np.ndarray:
        lam = n / (n + self.config.prior_strength)
        return _sigmoid(lam * z_head + (1 - lam) * logit(prior))

    def predict_proba(self, features: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """float (n, n_codes) probabilities; column k is self.codes[k]."""
        out = np.array(prior, dtype=float, copy=True)
        for k, code in enumerate(self.codes):
            model = self._models.get(code)
            if model is None:
                continue
            p = self._blend(model.decision_function(features), prior[:, k], self._counts[code])  # type: ignore[attr-defined]
            cal = self._calibrators.get(code)
            out[:, k] = cal(p) if cal is not None else p
        return out

    def calibrated(self, code: str) -> bool:
        return self._calibrators.get(code) is not None
