"""A classifier head that learns from analysts' decisions, on a segment and its context.

Features (`context_features`): the segment's embedding, the embeddings of the segments before
and after it in the same document (zeros at the edges), and its position (relative position,
first, last, 1/(1 + ordinal)). Qualitative codes often depend on where a passage sits, not only on
its words: "background" opens an abstract, a conclusion closes it, an answer follows a question.

Per code, a logistic regression is trained on that code's decisions (accepted = 1, rejected = 0;
the latest decision per segment and code wins). Trained with balanced class weights, its logit
estimates how much more likely the segment's features are under "yes" than under "no": evidence,
which is added to the zero-shot prior's logit:

    p = sigmoid(z_prior + evidence_weight * z_head)          (evidence_weight = 0.5)

A code without a head (no decisions, or only one kind) keeps its prior. A head fitted on a few
decisions is strongly regularised, so its logits are small and the prior still ranks; as decisions
accumulate, its evidence grows and takes over. The zero-shot scores are ranking scores, often
near 0 or 1; this rule leaves them on their own scale, so a code that has received decisions is
still compared fairly with the codes that have not. (The earlier rule, an interpolation
lam * z_head + (1 - lam) * z_prior with lam = n / (n + 8), pulled every decided code away from the
prior's scale whatever the decisions said: through the review service, 25 decided paragraphs of
the literature-review dev set lowered the kappa on the other 25 by 0.14 to 0.52. The measurements
and the rules tried are in docs/learning.md, "Learning that starts well".) When enough decisions exist (see calibration.MIN_DECISIONS), the score is
calibrated per code on out-of-fold predictions, so scores read as probabilities.
Training is deterministic given the seed; 10,000 decisions train in seconds on 2 cores.

Exclusive codebooks (`HeadConfig(exclusive=True)`): when each segment takes at most one code (a
segment's rhetorical role, a yes/no scheme), one multinomial logistic regression over the codes
plus "none" learns from every decided segment at once: an accepted code is that segment's class,
and a segment whose suggestions were all rejected (no code replaced them) is "none". A rejection
then teaches every code, not just one; on qabstracts this lifted macro kappa after 200 decisions
from 0.02 (per-code heads, learned order) to about 0.5. This head keeps the interpolation with the
prior, lam * z_head + (1 - lam) * z_prior with lam = n / (n + prior_strength), n the decided
segments: the learning benchmarks (qabstracts, Benoit) measure it so. `segment_features` adds the segment's
words (TF-IDF unigrams and bigrams) to the context features: cue phrases such as "we propose" or
"results show" carry the role that a topic-dominated embedding blurs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.classifiers.calibration import Calibrator, fit_calibrator, logit

if TYPE_CHECKING:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    Features = np.ndarray | sparse.csr_matrix  # (n, f), dense or sparse rows


@dataclass(frozen=True)
class Decision:
    """An analyst's verdict on one code for one segment (row `index` of the feature matrix)."""

    index: int
    code: str
    accepted: bool


@dataclass(frozen=True)
class HeadConfig:
    C: float = 0.5  # inverse regularisation strength of each logistic regression
    evidence_weight: float = 0.5  # per-code heads: p = sigmoid(z_prior + evidence_weight * z_head)
    prior_strength: float = 8.0  # exclusive head: decided segments at which head and prior weigh equally
    calibrate: bool = True
    seed: int = 0
    exclusive: bool = False  # codes exclude each other: one multinomial head with a "none" class


def context_features(vectors: np.ndarray, doc_ids: Sequence[str] | Sequence[int], ordinals: Sequence[int]) -> np.ndarray:
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


def segment_features(vectors: np.ndarray, doc_ids: Sequence[str] | Sequence[int], ordinals: Sequence[int],
                     texts: Sequence[str]) -> sparse.csr_matrix:
    """Sparse CSR (n, 3 * dim + 4 + vocabulary): `context_features` beside TF-IDF of each text.

    The vocabulary (unigrams and bigrams in at least two texts, sublinear tf) is fitted on the
    texts given, all of a project's segments: no labels are used.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    dense = sparse.csr_matrix(context_features(vectors, doc_ids, ordinals))
    try:
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32).fit_transform(texts)
    except ValueError:  # no word occurs twice (a tiny project): context alone
        return dense
    features: sparse.csr_matrix = sparse.hstack([dense, words], format="csr", dtype=np.float32)
    return features


LARGE = 2000  # decided rows from which fits are made cheaper: a looser tolerance, two calibration folds


def _folds(rows: int) -> int:
    """Out-of-fold calibration folds: three, two from LARGE rows on (each fold still has 1,000+)."""
    return 2 if rows >= LARGE else 3


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def latest_labels(decisions: Sequence[Decision], codes: Sequence[str]) -> dict[str, dict[int, int]]:
    """{code: {segment index: 0/1}}, the latest decision per (segment, code)."""
    out: dict[str, dict[int, int]] = {c: {} for c in codes}
    for d in decisions:
        if d.code in out:
            out[d.code][d.index] = int(d.accepted)
    return out


def ledger_decisions(entries: Iterable[tuple[int, Mapping[str, object]]], row_of: dict[int, int], codes: Iterable[str]) -> list[Decision]:
    """Decisions from ledger entries (segment id, {code: applied}) in ledger order: the latest entry per
    (segment, code) wins; segments outside `row_of` (segment id -> feature row) and unknown codes are skipped."""
    latest: dict[tuple[int, str], bool] = {}
    for segment_id, effects in entries:
        for code, applied in effects.items():
            latest[(int(segment_id), code)] = bool(applied)
    known = set(codes)
    return [Decision(row_of[sid], code, applied) for (sid, code), applied in latest.items() if sid in row_of and code in known]


def exclusive_labels(decisions: Sequence[Decision], codes: Sequence[str]) -> dict[int, tuple[int, ...]]:
    """{segment index: accepted code columns}, () when all its latest decisions are rejections."""
    out: dict[int, set[int]] = {}
    for k, per_row in enumerate(latest_labels(decisions, codes).values()):
        for row, y in per_row.items():
            out.setdefault(row, set())
            if y:
                out[row].add(k)
    return {row: tuple(sorted(ks)) for row, ks in out.items()}


class LearnedHead:
    """Logistic regressions on segment features, blended with a prior; see module docstring."""

    name = "learned-head"

    def __init__(self, codes: Sequence[str], config: HeadConfig = HeadConfig()) -> None:
        self.codes = list(codes)
        self.config = config
        self._models: dict[str, LogisticRegression] = {}
        self._counts: dict[str, int] = {c: 0 for c in self.codes}
        self._calibrators: dict[str, Calibrator | None] = {c: None for c in self.codes}
        self._exclusive: tuple[LogisticRegression, int] | None = None  # (model, decided rows) in exclusive mode

    def _new_model(self, rows: int = 0) -> LogisticRegression:
        """A logistic regression; from LARGE decided rows on it stops at a looser tolerance (half the
        time on 10,000 decisions, scores agreeing to about 1e-3)."""
        from sklearn.linear_model import LogisticRegression

        tol = 1e-3 if rows >= LARGE else 1e-4
        return LogisticRegression(C=self.config.C, class_weight="balanced", max_iter=2000, tol=tol, random_state=self.config.seed)

    def fit(self, features: Features, decisions: Sequence[Decision], prior: np.ndarray) -> LearnedHead:
        """Train on the decisions. features: (n, f), dense or sparse; prior: (n, n_codes) zero-shot scores in [0, 1]."""
        self._models = {}
        self._exclusive = None
        self._calibrators = {c: None for c in self.codes}
        if self.config.exclusive:
            return self._fit_exclusive(features, decisions, prior)
        labels = latest_labels(decisions, self.codes)
        for k, code in enumerate(self.codes):
            rows = np.fromiter(labels[code].keys(), dtype=np.int64, count=len(labels[code]))
            y = np.fromiter(labels[code].values(), dtype=np.int64, count=len(rows))
            self._counts[code] = len(rows)
            if len(rows) == 0 or len(np.unique(y)) < 2:
                continue  # the prior alone (a head needs both accepts and rejects)
            model = self._new_model(len(rows)).fit(features[rows], y)
            self._models[code] = model
            if self.config.calibrate:
                oof = self._out_of_fold(features[rows], y, prior[rows, k])
                self._calibrators[code] = fit_calibrator(oof, y) if oof is not None else None
        return self

    # -- exclusive codebooks: one multinomial head over codes + "none" --------------------------

    def _exclusive_rows(self, decisions: Sequence[Decision]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, class, weight): a segment with two accepted codes counts half for each."""
        none = len(self.codes)
        rows, classes, weights = [], [], []
        for row, ks in exclusive_labels(decisions, self.codes).items():
            for k in ks or (none,):
                rows.append(row)
                classes.append(k)
                weights.append(1.0 / max(len(ks), 1))
        return np.array(rows, dtype=np.int64), np.array(classes, dtype=np.int64), np.array(weights)

    def _fit_exclusive(self, features: Features, decisions: Sequence[Decision], prior: np.ndarray) -> LearnedHead:
        rows, y, w = self._exclusive_rows(decisions)
        n_decided = len(np.unique(rows))
        for code in self.codes:
            self._counts[code] = n_decided
        if len(np.unique(y)) < 2:
            return self  # the prior alone
        model = self._new_model(len(rows)).fit(features[rows], y, sample_weight=w)
        self._exclusive = (model, n_decided)
        if self.config.calibrate:
            oof = self._exclusive_out_of_fold(features[rows], y, w, prior[rows], n_decided)
            if oof is not None:
                for k, code in enumerate(self.codes):
                    self._calibrators[code] = fit_calibrator(oof[:, k], (y == k).astype(int))
        return self

    def _class_proba(self, model: LogisticRegression, features: Features, n_classes: int) -> np.ndarray:
        """(n, n_codes + 1) class probabilities; a class the model never saw gets NaN."""
        out = np.full((features.shape[0], n_classes), np.nan)
        out[:, model.classes_] = model.predict_proba(features)
        return out

    def _exclusive_blend(self, model: LogisticRegression, features: Features, prior: np.ndarray, n: int) -> np.ndarray:
        proba = self._class_proba(model, features, len(self.codes) + 1)[:, : len(self.codes)]
        seen = ~np.isnan(proba[0])
        out = np.array(prior, dtype=float, copy=True)
        out[:, seen] = self._blend(logit(proba[:, seen]), prior[:, seen], n)
        return out

    def _exclusive_out_of_fold(self, x: Features, y: np.ndarray, w: np.ndarray, prior: np.ndarray, n: int) -> np.ndarray | None:
        from sklearn.model_selection import KFold, StratifiedKFold

        if len(y) < 10:
            return None
        counts = np.bincount(y)
        stratify = counts[counts > 0].min() >= 3
        folds = (StratifiedKFold if stratify else KFold)(n_splits=_folds(len(y)), shuffle=True, random_state=self.config.seed)
        out = np.empty((len(y), len(self.codes)))
        for train, test in folds.split(x, y):
            if len(np.unique(y[train])) < 2:
                return None
            m = self._new_model(len(y)).fit(x[train], y[train], sample_weight=w[train])
            out[test] = self._exclusive_blend(m, x[test], prior[test], int(n * 2 / 3))
        return out

    # -- per-code heads -------------------------------------------------------------------------

    def _out_of_fold(self, x: Features, y: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
        """Blended scores for the decided rows, each predicted by a model that did not see it."""
        from sklearn.model_selection import StratifiedKFold

        if min(np.bincount(y, minlength=2)) < 3:
            return None
        folds = StratifiedKFold(n_splits=_folds(len(y)), shuffle=True, random_state=self.config.seed)
        out = np.empty(len(y))
        for train, test in folds.split(x, y):
            if len(np.unique(y[train])) < 2:
                return None
            m = self._new_model(len(y)).fit(x[train], y[train])
            out[test] = self._add_evidence(m.decision_function(x[test]), prior[test])
        return out

    def _add_evidence(self, z_head: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Per-code heads: the prior's logit plus the head's weighted logit (module docstring)."""
        return _sigmoid(logit(prior) + self.config.evidence_weight * z_head)

    def _blend(self, z_head: np.ndarray, prior: np.ndarray, n: int) -> np.ndarray:
        """Exclusive head: interpolate head and prior logits, lam = n / (n + prior_strength)."""
        lam = n / (n + self.config.prior_strength)
        return _sigmoid(lam * z_head + (1 - lam) * logit(prior))

    def predict_proba(self, features: Features, prior: np.ndarray) -> np.ndarray:
        """float (n, n_codes) probabilities; column k is self.codes[k]."""
        if self._exclusive is not None:
            model, n = self._exclusive
            out = self._exclusive_blend(model, features, prior, n)
        else:
            out = np.array(prior, dtype=float, copy=True)
            for k, code in enumerate(self.codes):
                model = self._models.get(code)
                if model is not None:
                    out[:, k] = self._add_evidence(model.decision_function(features), prior[:, k])
        for k, code in enumerate(self.codes):
            cal = self._calibrators.get(code)
            if cal is not None:
                out[:, k] = cal(out[:, k])
        return out

    def calibrated(self, code: str) -> bool:
        return self._calibrators.get(code) is not None
