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

Exclusive codebooks (`HeadConfig(exclusive=True)`): when each segment takes at most one code (a
segment's rhetorical role, a yes/no scheme), one multinomial logistic regression over the codes
plus "none" learns from every decided segment at once: an accepted code is that segment's class,
and a segment whose suggestions were all rejected (no code replaced them) is "none". A rejection
then teaches every code, not just one; on qabstracts this lifted macro kappa after 200 decisions
from 0.02 (per-code heads, learned order) to about 0.5. `segment_features` adds the segment's
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
    prior_strength: float = 8.0  # labels at which head and prior weigh equally
    calibrate: bool = True
    seed: int = 0
    exclusive: bool = False  # codes exclude each other: one multinomial head with a "none" class
    # EXPERIMENTAL, off by default, being measured (issue 21, item 6): per-code labels from the
    # codebook's tree (code_labels) and sub-codes capped by their parent's head
    hierarchy: bool = False
    coded_is_complete: bool = False  # with hierarchy: a coded segment is a "no" for the codes not applied in it


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


def _ancestors(code: str, known: set[str]) -> list[str]:
    """The codes above `code` in the tree ("a/b/c" -> "a/b", "a"), those in `known` only."""
    parts = code.split("/")
    return [a for a in ("/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)) if a in known]


def code_labels(decisions: Sequence[Decision], codes: Sequence[str], *, coded_is_complete: bool = True) -> dict[str, dict[int, int]]:
    """{code: {segment index: 0/1}}: each code's own latest decisions, then what they imply.

    A code's own decision on a segment always stands. Where it has none:
    - 1 when a code below it was applied there (an applied sub-code applies its parent);
    - 0 when a code above it was rejected there (a rejected code rejects its sub-codes);
    - 0, with `coded_is_complete`, when the segment is coded (some code was applied there) and
      neither this code nor any below it was applied.
    Codes are paths ("trust/personal" is under "trust"), as in models.codebook.
    """
    own = latest_labels(decisions, codes)
    known = set(codes)
    out = {c: dict(rows) for c, rows in own.items()}
    applied: dict[int, set[str]] = {}
    for code, rows in own.items():
        for row, y in rows.items():
            if y:
                applied.setdefault(row, set()).add(code)
    for row, present in applied.items():
        for code in present:
            for a in _ancestors(code, known):
                out[a].setdefault(row, 1)
    for code, rows in own.items():
        below = [c for c in codes if c.startswith(code + "/")]
        for row, y in rows.items():
            if not y:
                for c in below:
                    out[c].setdefault(row, 0)
    if coded_is_complete:
        for row in applied:
            for code in codes:
                out[code].setdefault(row, 0)  # applied codes and their ancestors are already set
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
        if self.config.hierarchy:
            labels = code_labels(decisions, self.codes, coded_is_complete=self.config.coded_is_complete)
        else:
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
            out[test] = self._blend(m.decision_function(x[test]), prior[test], len(train))
        return out

    def _blend(self, z_head: np.ndarray, prior: np.ndarray, n: int) -> np.ndarray:
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
                    out[:, k] = self._blend(model.decision_function(features), prior[:, k], self._counts[code])
        for k, code in enumerate(self.codes):
            cal = self._calibrators.get(code)
            if cal is not None:
                out[:, k] = cal(out[:, k])
        if self._exclusive is None and self.config.hierarchy:
            self._nest(out)
        return out

    def _nest(self, out: np.ndarray) -> None:
        """In place: a sub-code scores at most its parent, where the parent has a head of its own
        (parents first, so a cap passes down the tree)."""
        column = {c: k for k, c in enumerate(self.codes)}
        for k in sorted(range(len(self.codes)), key=lambda j: self.codes[j].count("/")):
            parents = _ancestors(self.codes[k], set(column))
            if parents and parents[0] in self._models:
                np.minimum(out[:, k], out[:, column[parents[0]]], out=out[:, k])

    def calibrated(self, code: str) -> bool:
        return self._calibrators.get(code) is not None
