"""The model as a coder: is it as reliable as a second human coder?

For each code (and pooled over codes) this reports
- the human ceiling: agreement of every pair of human coders, with intervals;
- the model's agreement with each human, and with the human consensus (a code is in the
  consensus when more than half of the humans who coded the unit applied it);
- a verdict: "inside", "below" or "above" the human range. The human range is
  [lowest, highest] human-pair value when there are two or more pairs, and the bootstrap
  interval of the one pair when there are only two humans; the model is placed by its mean
  agreement with the individual humans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from eval.agreement import Ratings, ratings
from eval.codings import CodingTable, consensus
from eval.intervals import Estimate, estimate


@dataclass(frozen=True)
class ModelComparison:
    code: str
    metric: str
    human_pairs: dict[str, Estimate]
    human_low: float
    human_high: float
    model_vs_humans: dict[str, Estimate]
    model_vs_consensus: Estimate
    model_mean: float
    verdict: str  # inside, below, above, undetermined

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "metric": self.metric,
            "human_pairs": {k: v.as_dict() for k, v in self.human_pairs.items()},
            "human_range": [_none(self.human_low), _none(self.human_high)],
            "model_vs_humans": {k: v.as_dict() for k, v in self.model_vs_humans.items()},
            "model_vs_consensus": self.model_vs_consensus.as_dict(),
            "model_mean": _none(self.model_mean),
            "verdict": self.verdict,
        }


def _none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _binary(col_a: np.ndarray, col_b: np.ndarray) -> Ratings:
    block = np.column_stack([col_a, col_b]).astype(float)
    block[block < 0] = np.nan
    return ratings(block, categories=[0.0, 1.0])


def compare_model(
    table: CodingTable,
    model: str,
    *,
    humans: Sequence[str] | None = None,
    metric: str = "krippendorff",
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[ModelComparison]:
    """One ModelComparison per code, then one for all codes pooled ("(pooled)")."""
    if model not in table.coders:
        raise ValueError(f"no coder named {model!r} in the codings; coders: {', '.join(table.coders)}")
    hs = list(humans) if humans else [c for c in table.coders if c != model]
    if len(hs) < 1:
        raise ValueError("comparing the model needs at least one human coder")
    m = table.coders.index(model)
    cons = consensus(table, hs)

    def agree(col_a: np.ndarray, col_b: np.ndarray) -> Estimate:
        return estimate(_binary(col_a, col_b), metric, ci=ci, n_boot=n_boot, seed=seed)

    def column(j: int, k: int | None) -> np.ndarray:
        return table.presence[:, j, k] if k is not None else table.presence[:, j, :].reshape(-1)

    out = []
    views = [(code, k) for k, code in enumerate(table.codes)] + [("(pooled)", None)]
    for code, k in views:
        cons_col = cons[:, k] if k is not None else cons.reshape(-1)
        pairs = {f"{a} | {b}": agree(column(table.coders.index(a), k), column(table.coders.index(b), k)) for a, b in combinations(hs, 2)}
        vs_h = {h: agree(column(m, k), column(table.coders.index(h), k)) for h in hs}
        vs_c = agree(column(m, k), cons_col)
        pair_vals = np.array([e.value for e in pairs.values()], dtype=float)
        pair_vals = pair_vals[~np.isnan(pair_vals)]
        if len(pair_vals) >= 2:
            low, high = float(pair_vals.min()), float(pair_vals.max())
        elif len(pairs) == 1:
            only = next(iter(pairs.values()))
            low, high = only.ci_low, only.ci_high
        else:
            low = high = float("nan")
        model_vals = np.array([e.value for e in vs_h.values()], dtype=float)
        model_mean = float(np.nanmean(model_vals)) if (~np.isnan(model_vals)).any() else float("nan")
        if np.isnan(model_mean) or np.isnan(low) or np.isnan(high):
            verdict = "undetermined"
        elif model_mean < low:
            verdict = "below"
        elif model_mean > high:
            verdict = "above"
        else:
            verdict = "inside"
        out.append(ModelComparison(code, metric, pairs, low, high, vs_h, vs_c, model_mean, verdict))
    return out
