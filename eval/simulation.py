"""Simulated review: how fast does the classifier learn from an analyst's decisions?

A simulated analyst answers suggestions from the human codes: a suggested code is accepted when the
consensus has it, else rejected. When rejecting a segment that the consensus does code, the analyst
applies the right code instead (Loupe's "replace"): one decision, a negative for the suggested code
and a positive for the right one. After each checkpoint the model is scored on held-out units
against the consensus (per-code Cohen's kappa and Krippendorff's alpha, and their macro means).

Orderings: "learned" (review_order: coverage first, then expected information with diversity) and
"random" (a random undecided segment, with its most likely undecided code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from eval.agreement import cohen_kappa, krippendorff_alpha
from models.classifiers.calibration import expected_calibration_error
from models.classifiers.learned import Decision, HeadConfig, LearnedHead
from models.classifiers.review import review_order


@dataclass
class CurvePoint:
    decisions: int
    macro_kappa: float
    macro_alpha: float
    per_code_kappa: dict[str, float] = field(default_factory=dict)
    per_code_alpha: dict[str, float] = field(default_factory=dict)
    ece: float = float("nan")


@dataclass
class Simulation:
    curve: list[CurvePoint]
    model: LearnedHead  # as trained at the last checkpoint


def score(pred: np.ndarray, truth: np.ndarray, codes: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-code kappa and alpha of binary predictions (n, C) against truth (n, C)."""
    kappa, alpha = {}, {}
    for c, code in enumerate(codes):
        pair = np.column_stack([pred[:, c], truth[:, c]]).astype(float)
        kappa[code] = cohen_kappa(pair) if len(np.unique(pair)) > 1 else float("nan")
        alpha[code] = krippendorff_alpha(pair)
    return kappa, alpha


def predict_labels(proba: np.ndarray, at_least_one: bool) -> np.ndarray:
    pred = (proba >= 0.5).astype(np.int8)
    if at_least_one:
        none = pred.sum(axis=1) == 0
        pred[np.flatnonzero(none), np.argmax(proba[none], axis=1)] = 1
    return pred


def simulate(
    features: np.ndarray,
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
) -> Simulation:
    """The learning curve (one CurvePoint per checkpoint) and the model at the last checkpoint."""
    rng = np.random.default_rng(seed)
    cfg = head or HeadConfig(seed=seed)
    x_tr, v_tr, p_tr, t_tr = features[train], vectors[train], prior[train], truth[train]
    n, n_codes = t_tr.shape
    decisions: list[Decision] = []
    decided = np.zeros((n, n_codes), dtype=bool)
    answered = 0
    model = LearnedHead(codes, cfg)
    curve: list[CurvePoint] = []
    for target in sorted(checkpoints):
        while answered < target:
            model.fit(x_tr, decisions, p_tr)
            proba = model.predict_proba(x_tr, p_tr)
            k = min(batch, target - answered)
            if ordering == "learned":
                counts = decided.sum(axis=0)
                picks = review_order(proba, v_tr, decided, k, mode="coverage", decisions_per_code=counts, min_per_code=4)
            else:
                open_rows = np.flatnonzero(~decided.all(axis=1))
                rows = rng.choice(open_rows, size=min(k, len(open_rows)), replace=False)
                picks = [(int(i), int(np.argmax(np.where(decided[i], -1, proba[i])))) for i in rows]
            for i, c in picks:
                accepted = bool(t_tr[i, c])
                decisions.append(Decision(i, codes[c], accepted))
                decided[i, c] = True
                if not accepted:
                    for right in np.flatnonzero(t_tr[i] & ~decided[i]):
                        decisions.append(Decision(i, codes[right], True))
                        decided[i, right] = True
                answered += 1
        model.fit(x_tr, decisions, p_tr)
        proba_test = model.predict_proba(features[test], prior[test])
        kappa, alpha = score(predict_labels(proba_test, at_least_one), truth[test], codes)
        kv = [v for v in kappa.values() if not np.isnan(v)]
        av = [v for v in alpha.values() if not np.isnan(v)]
        curve.append(CurvePoint(
            decisions=answered,
            macro_kappa=float(np.mean(kv)) if kv else float("nan"),
            macro_alpha=float(np.mean(av)) if av else float("nan"),
            per_code_kappa=kappa,
            per_code_alpha=alpha,
            ece=expected_calibration_error(proba_test, truth[test]),
        ))
    return Simulation(curve=curve, model=model)
