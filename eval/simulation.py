"""Simulated review: how fast does the classifier learn from an analyst's decisions?

A simulated analyst answers suggestions from the human codes: a suggested code is accepted when the
consensus has it, else rejected. When rejecting a segment that the consensus does code, the analyst
applies the right code instead (Loupe's "replace"): one decision, a negative for the suggested code
and a positive for the right one. After each checkpoint the model is scored on held-out units
against the consensus (per-code Cohen's kappa and Krippendorff's alpha, and their macro means).

Orderings: "learned" and "random". Learned is review_order (coverage first, then expected
information with diversity); for an exclusive codebook it is review_segments (half by the
smallest margin between a segment's two most likely outcomes, with diversity, half at random;
the first batch at random). Random is a random undecided segment with its most likely undecided
code. For an exclusive codebook a segment is decided once.

With a Tuning, the encoder is fine-tuned along the way (see simulate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from eval.agreement import cohen_kappa, krippendorff_alpha
from models.base import LoupeError
from models.classifiers.calibration import expected_calibration_error
from models.classifiers.finetune import (
    MIN_PER_LABEL,
    better_on_held_out,
    held_out_log_loss,
    macro_f1,
)
from models.classifiers.learned import (
    Decision,
    HeadConfig,
    LearnedHead,
    exclusive_labels,
)
from models.classifiers.review import review_order, review_segments, with_none


@dataclass
class CurvePoint:
    decisions: int
    macro_kappa: float
    macro_alpha: float
    per_code_kappa: dict[str, float] = field(default_factory=dict)
    per_code_alpha: dict[str, float] = field(default_factory=dict)
    ece: float = float("nan")
    tuning: dict[str, Any] = field(default_factory=dict)  # fine-tuning at this checkpoint, when on


@dataclass
class Simulation:
    curve: list[CurvePoint]
    model: LearnedHead  # as trained at the last checkpoint
    features: Any = None  # the features it was trained on (tuned ones when tuning was used)


def score(pred: np.ndarray, truth: np.ndarray, codes: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-code kappa and alpha of binary predictions (n, C) against truth (n, C)."""
    kappa, alpha = {}, {}
    for c, code in enumerate(codes):
        pair = np.column_stack([pred[:, c], truth[:, c]]).astype(float)
        kappa[code] = cohen_kappa(pair) if len(np.unique(pair)) > 1 else float("nan")
        alpha[code] = krippendorff_alpha(pair)
    return kappa, alpha


def predict_labels(proba: np.ndarray, at_least_one: bool, exclusive: bool = False) -> np.ndarray:
    """Binary (n, C) codings: codes at p >= 0.5 (at least the top one if asked); for an exclusive
    codebook, the single most likely outcome, a code or none (`review.with_none`)."""
    if exclusive:
        best = np.argmax(with_none(proba), axis=1)
        pred = np.zeros(proba.shape, dtype=np.int8)
        coded = np.flatnonzero(best < proba.shape[1])
        pred[coded, best[coded]] = 1
        return pred
    pred = (proba >= 0.5).astype(np.int8)
    if at_least_one:
        none = pred.sum(axis=1) == 0
        pred[np.flatnonzero(none), np.argmax(proba[none], axis=1)] = 1
    return pred


@dataclass
class Tuning:
    """How the simulation fine-tunes the encoder (models.classifiers.finetune).

    tune(rows, labels) -> new vectors for every unit, from an encoder tuned on those units (global
    row indices) with those labels (tuples of accepted code columns); featurize(vectors) ->
    the head's features for every unit.
    """

    tune: Callable[[np.ndarray, list[tuple[int, ...]]], np.ndarray]
    featurize: Callable[[np.ndarray], Any]
    min_decisions: int = 100
    min_held_out: int = 20


@dataclass
class _Candidate:
    vectors: np.ndarray
    features: Any
    rows: set[int]  # the (train-local) segments it was tuned on


def simulate(
    features: Any,
    vectors: np.ndarray,
    prior: np.ndarray,
    truth: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    codes: Sequence[str],
    *,
    ordering: Literal["learned", "random"] = "learned",
    checkpoints: Sequence[int] = (0, 25, 50, 100, 200, 400),
    batch: int = 25,
    at_least_one: bool = True,
    seed: int = 0,
    head: HeadConfig | None = None,
    tuning: Tuning | None = None,
) -> Simulation:
    """The learning curve (one CurvePoint per checkpoint) and the model at the last checkpoint.

    features: (N, f) dense or sparse for all units; vectors: (N, dim); train/test: unit rows.
    With `tuning`, from `min_decisions` on, the encoder is fine-tuned at each checkpoint, and a
    tuned encoder is used only where it has proved itself on decided segments it was not tuned on:
    the head on its embeddings must give them a lower log-loss than the head on the base embeddings
    (finetune.better_on_held_out). The first time, it is tuned on four fifths of the decided
    segments and checked on the rest; later, the last tuned encoder is checked on the segments
    decided since, and if it proves itself a new one tuned on every decided segment is used.
    """
    rng = np.random.default_rng(seed)
    cfg = head or HeadConfig(seed=seed)
    exclusive = cfg.exclusive
    p_tr, t_tr = prior[train], truth[train]
    base_tr = features[train]
    x_tr, v_tr, x_all = base_tr, vectors[train], features
    n, n_codes = t_tr.shape
    decisions: list[Decision] = []
    decided = np.zeros((n, n_codes), dtype=bool)
    answered = 0
    model = LearnedHead(codes, cfg)
    curve: list[CurvePoint] = []
    candidate: _Candidate | None = None
    last = max(checkpoints)
    for target in sorted(checkpoints):
        while answered < target:
            model.fit(x_tr, decisions, p_tr)
            proba = model.predict_proba(x_tr, p_tr)
            k = min(batch, target - answered)
            picks = _next(ordering, exclusive, proba, v_tr, decided, decisions, codes, k, rng)
            for i, c in picks:
                accepted = bool(t_tr[i, c])
                decisions.append(Decision(i, codes[c], accepted))
                decided[i, c] = True
                if not accepted:
                    for right in np.flatnonzero(t_tr[i] & ~decided[i]):
                        decisions.append(Decision(i, codes[int(right)], True))
                        decided[i, right] = True
                if exclusive:
                    decided[i] = True
                answered += 1
        tuned_note: dict[str, Any] = {}
        labels = exclusive_labels(decisions, codes)
        if tuning is not None and answered >= tuning.min_decisions and not _tunable(labels):
            tuned_note = {"used": False, "skipped": "fewer than two labels with two decided segments each"}
        elif tuning is not None and answered >= tuning.min_decisions:
            first = candidate is None
            if first:  # the first time: tune on most decided segments, check on the rest
                rows = np.array(sorted(labels), dtype=np.int64)
                held = set(rng.choice(rows, size=max(tuning.min_held_out, len(rows) // 5), replace=False).tolist())
                try:
                    candidate = _tune(tuning, train, labels, [r for r in rows if r not in held])
                except LoupeError as exc:  # the held-out draw took too many of a rare label
                    candidate = None
                    tuned_note = {"skipped": str(exc)}
            if candidate is None:
                proved = False
            else:
                proved, tuned_note = _proved(candidate, decisions, labels, base_tr, p_tr, cfg, codes, train, tuning)
            if candidate is not None and proved and first:
                x_all, x_tr, v_tr = candidate.features, candidate.features[train], candidate.vectors[train]
            elif candidate is not None and (proved or target != last):  # later: tune on every decided segment; used when the last one proved itself
                fresh = _tune(tuning, train, labels, sorted(labels))
                if proved:
                    x_all, x_tr, v_tr = fresh.features, fresh.features[train], fresh.vectors[train]
                candidate = fresh
            tuned_note["used"] = bool(proved)
        model.fit(x_tr, decisions, p_tr)
        proba_test = model.predict_proba(x_all[test], prior[test])
        kappa, alpha = score(predict_labels(proba_test, at_least_one, exclusive), truth[test], codes)
        kv = [v for v in kappa.values() if not np.isnan(v)]
        av = [v for v in alpha.values() if not np.isnan(v)]
        curve.append(CurvePoint(
            decisions=answered,
            macro_kappa=float(np.mean(kv)) if kv else float("nan"),
            macro_alpha=float(np.mean(av)) if av else float("nan"),
            per_code_kappa=kappa,
            per_code_alpha=alpha,
            ece=expected_calibration_error(proba_test, truth[test]),
            tuning=tuned_note,
        ))
    return Simulation(curve=curve, model=model, features=x_all)


def _next(ordering: str, exclusive: bool, proba: np.ndarray, vectors: np.ndarray, decided: np.ndarray,
          decisions: list[Decision], codes: Sequence[str], k: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """The next k (row, code column) suggestions the simulated analyst answers."""
    if exclusive:
        open_rows = np.flatnonzero(~decided.any(axis=1))
        if ordering == "learned" and decisions:  # cold start (no decisions yet): random
            return review_segments(proba, vectors, open_rows, k, rng=rng)
        rows = rng.choice(open_rows, size=min(k, len(open_rows)), replace=False)
        return [(int(i), int(np.argmax(proba[i]))) for i in rows]
    if ordering == "learned":
        counts = decided.sum(axis=0)
        return review_order(proba, vectors, decided, k, mode="coverage", decisions_per_code=counts, min_per_code=4)
    open_rows = np.flatnonzero(~decided.all(axis=1))
    rows = rng.choice(open_rows, size=min(k, len(open_rows)), replace=False)
    return [(int(i), int(np.argmax(np.where(decided[i], -1, proba[i])))) for i in rows]


def _tunable(labels: dict[int, tuple[int, ...]]) -> bool:
    """Enough to fine-tune on (finetune.MIN_PER_LABEL segments of two labels), with a fifth held out."""
    counts: dict[tuple[int, ...], int] = {}
    for lab in labels.values():
        counts[lab] = counts.get(lab, 0) + 1
    return sum(1 for c in counts.values() if c >= 2 * MIN_PER_LABEL) >= 2


def _tune(tuning: Tuning, train: np.ndarray, labels: dict[int, tuple[int, ...]], rows: Sequence[int]) -> _Candidate:
    idx = np.asarray(rows, dtype=np.int64)
    vectors = tuning.tune(train[idx], [labels[r] for r in rows])
    return _Candidate(vectors, tuning.featurize(vectors), set(idx.tolist()))


def _proved(candidate: _Candidate, decisions: list[Decision], labels: dict[int, tuple[int, ...]], base_tr: Any, p_tr: np.ndarray,
            cfg: HeadConfig, codes: Sequence[str], train: np.ndarray, tuning: Tuning) -> tuple[bool, dict[str, Any]]:
    """Does the candidate encoder beat the base one on decided segments it was not tuned on?

    Both heads learn from the decisions on the segments it was tuned on and are scored on the others.
    """
    rows = np.array(sorted(r for r in labels if r not in candidate.rows), dtype=np.int64)
    if len(rows) < tuning.min_held_out:
        return False, {"held_out": len(rows)}
    before = [d for d in decisions if d.index in candidate.rows]
    none = len(codes)
    y = np.array([labels[r][0] if labels[r] else none for r in rows])
    cfg = replace(cfg, calibrate=False)
    base = with_none(LearnedHead(codes, cfg).fit(base_tr, before, p_tr).predict_proba(base_tr[rows], p_tr[rows]))
    tuned_tr = candidate.features[train]
    tuned = with_none(LearnedHead(codes, cfg).fit(tuned_tr, before, p_tr).predict_proba(tuned_tr[rows], p_tr[rows]))
    return better_on_held_out(base, tuned, y), {
        "held_out": len(rows),
        "log_loss": {"base": held_out_log_loss(base, y), "tuned": held_out_log_loss(tuned, y)},
        "macro_f1": {"base": macro_f1(base, y), "tuned": macro_f1(tuned, y)},
    }
