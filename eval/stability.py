"""Is the model a reliable coder? Its agreement with itself across perturbed runs, and whether the
conclusions drawn from its codings keep their direction.

Baumann et al. (2025, "Large Language Model Hacking: Quantifying the Hidden Risks of Using LLMs
for Text Annotation") found that about a third of the conclusions drawn from LLM annotations
changed with the model or the prompt. These functions measure that for Loupe's model coder from
K runs under small, documented perturbations (scripts/stability_cli.py makes the runs).

Arrays: `runs` is int8 (K, n_units, n_codes), 1 where run k applied code c to unit i, else 0 (every
run codes every unit, so nothing is missing). `human` is int8 (n_units, n_coders, n_codes), 1
coded, 0 not coded, -1 the coder did not code the unit (eval.codings.CodingTable.presence).

A conclusion is "code c is more (or less) frequent among units with attribute value v than among
the others": a two-sided two-proportion z-test at level `alpha` (no correction for the number of
tests; the point is whether runs agree with each other, not a confirmatory test). Per run its sign
is +1, -1, or 0 (no significant difference). Across runs a (code, value) is "stable" when every
run draws the same conclusion, "changed" when some runs draw one and others none, and "flipped"
when runs draw opposite ones. Groups with fewer than `min_n` units, or whose rest has fewer, are
not tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from eval.intervals import estimate
from models.codebook import Codebook

STABLE, CHANGED, FLIPPED = "stable", "changed", "flipped"


@dataclass(frozen=True)
class RunPlan:
    """One run of the model coder: which perturbations it carries.

    order_seed: units are encoded and scored in the order of a permutation with this seed (None:
    input order); threshold: the proposal threshold; examples_seed: each code's include and example
    lists are shuffled with this seed, and with drop_example one item of each list of three or more
    is left out (None: the codebook as written); encoder: the embedding model ("default" or a path).
    """

    run: int
    order_seed: int | None
    threshold: float
    examples_seed: int | None
    drop_example: bool
    encoder: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PERTURBATIONS = ("order", "threshold", "examples", "drop-example", "encoder")


def plan_runs(k: int, *, threshold: float, band: float = 0.05, perturb: Sequence[str] = ("order", "threshold", "examples"),
              encoders: Sequence[str] = ("default",), seed: int = 0) -> list[RunPlan]:
    """K runs: run 0 is the model as configured; runs 1..K-1 each carry every perturbation asked for
    (thresholds spread evenly over [threshold - band, threshold + band], encoders taken in turn).

    >>> [round(p.threshold, 3) for p in plan_runs(3, threshold=0.5, band=0.05, perturb=("threshold",))]
    [0.5, 0.45, 0.55]
    """
    if k < 2:
        raise ValueError("a stability report needs at least 2 runs")
    unknown = set(perturb) - set(PERTURBATIONS)
    if unknown:
        raise ValueError(f"unknown perturbation(s) {', '.join(sorted(unknown))}; choose from {', '.join(PERTURBATIONS)}")
    if not encoders:
        raise ValueError("name at least one encoder")
    grid = np.linspace(threshold - band, threshold + band, k - 1) if k > 2 else np.array([threshold - band])
    out = [RunPlan(0, None, threshold, None, False, encoders[0])]
    for r in range(1, k):
        out.append(RunPlan(
            run=r,
            order_seed=seed * 1000 + r if "order" in perturb else None,
            threshold=float(grid[r - 1]) if "threshold" in perturb else threshold,
            examples_seed=seed * 1000 + r if ("examples" in perturb or "drop-example" in perturb) else None,
            drop_example="drop-example" in perturb,
            encoder=encoders[r % len(encoders)] if "encoder" in perturb else encoders[0],
        ))
    return out


def _nan_none(v: float) -> float | None:
    return None if v != v else float(v)


def retest_agreement(runs: np.ndarray, codes: Sequence[str], *, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per code: Krippendorff's alpha of the K runs as K coders (with its interval and n), how many
    units at least one run codes differently from the others, and the code's prevalence per run."""
    runs = np.asarray(runs)
    if runs.ndim != 3 or runs.shape[2] != len(codes):
        raise ValueError(f"runs must be (K, n_units, n_codes={len(codes)}), got {runs.shape}")
    out = {}
    for c, code in enumerate(codes):
        block = runs[:, :, c].T.astype(float)  # units x runs
        est = estimate(block, "krippendorff", n_boot=n_boot, seed=seed)
        changed = int((block.min(axis=1) != block.max(axis=1)).sum())
        prevalence = block.mean(axis=0)
        out[code] = {**est.as_dict(), "units_changed": changed,
                     "prevalence": [float(p) for p in prevalence], "applied": [int(s) for s in block.sum(axis=0)]}
    return out


def human_agreement(human: np.ndarray, codes: Sequence[str], *, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per code: Krippendorff's alpha among the human coders (presence, -1 missing)."""
    human = np.asarray(human)
    out = {}
    for c, code in enumerate(codes):
        block = human[:, :, c].astype(float)
        block[block < 0] = np.nan
        out[code] = estimate(block, "krippendorff", n_boot=n_boot, seed=seed).as_dict()
    return out


def majority(human: np.ndarray) -> np.ndarray:
    """int8 (n_units, n_codes): 1 where more than half of the coders who coded the unit applied the
    code (ties: 0); -1 where nobody coded the unit."""
    human = np.asarray(human)
    coded = (human >= 0).sum(axis=1)
    yes = (human == 1).sum(axis=1)
    out: np.ndarray = (2 * yes > coded).astype(np.int8)
    out[coded == 0] = -1
    return out


def model_vs_reference(runs: np.ndarray, reference: np.ndarray, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per code: Krippendorff's alpha of each run against a reference coding (e.g. the human
    majority; -1 = unit without reference), and their range across runs."""
    out = {}
    for c, code in enumerate(codes):
        ok = reference[:, c] >= 0
        values = [krippendorff_pair(runs[k, ok, c], reference[ok, c]) for k in range(runs.shape[0])]
        defined = [v for v in values if v is not None]
        out[code] = {"per_run": values, "min": min(defined) if defined else None, "max": max(defined) if defined else None,
                     "n_units": int(ok.sum())}
    return out


def krippendorff_pair(a: np.ndarray, b: np.ndarray) -> float | None:
    return _nan_none(estimate(np.stack([a, b], axis=1).astype(float), "krippendorff", n_boot=0).value)


def _z_sign(yes_in: int, n_in: int, yes_out: int, n_out: int, alpha: float) -> tuple[int, float]:
    """(sign of the significant difference or 0, two-sided p) of a pooled two-proportion z-test."""
    p_in, p_out = yes_in / n_in, yes_out / n_out
    pooled = (yes_in + yes_out) / (n_in + n_out)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
    if se == 0:
        return 0, 1.0
    z = (p_in - p_out) / se
    p = math.erfc(abs(z) / math.sqrt(2))
    return (int(np.sign(z)) if p < alpha else 0), p


@dataclass
class Direction:
    code: str
    attribute: str
    value: str
    n: int
    signs: list[int]  # per run: +1 more frequent in the group, -1 less, 0 no significant difference
    rates: list[tuple[float, float]]  # per run: (rate in the group, rate in the rest)
    verdict: str  # stable | changed | flipped
    reference: int | None = None  # the same test on the reference coding (human majority), if any
    p_values: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def directions(runs: np.ndarray, codes: Sequence[str], attribute: str, values: Sequence[str], *, min_n: int = 10,
               alpha: float = 0.05, reference: np.ndarray | None = None) -> list[Direction]:
    """For each code and each attribute value with at least min_n units (and min_n outside it):
    the conclusion each run draws about the code's frequency in that group against the rest.

    values: (n_units,) the attribute's value per unit ("" = unknown, left out). reference: int8
    (n_units, n_codes) with -1 for units it lacks; its conclusion is computed on the units it has.
    """
    runs = np.asarray(runs)
    vals = np.asarray([str(v) for v in values], dtype=object)
    known = vals != ""
    out = []
    for value in sorted(set(vals[known].tolist())):
        group = vals == value
        rest = known & ~group
        n_in, n_out = int(group.sum()), int(rest.sum())
        if n_in < min_n or n_out < min_n:
            continue
        for c, code in enumerate(codes):
            signs, rates, ps = [], [], []
            for k in range(runs.shape[0]):
                y_in, y_out = int(runs[k, group, c].sum()), int(runs[k, rest, c].sum())
                s, p = _z_sign(y_in, n_in, y_out, n_out, alpha)
                signs.append(s)
                ps.append(p)
                rates.append((y_in / n_in, y_out / n_out))
            ref = None
            if reference is not None:
                g, r = group & (reference[:, c] >= 0), rest & (reference[:, c] >= 0)
                if g.sum() >= min_n and r.sum() >= min_n:
                    ref = _z_sign(int(reference[g, c].sum()), int(g.sum()), int(reference[r, c].sum()), int(r.sum()), alpha)[0]
            kinds = set(signs)
            verdict = FLIPPED if {1, -1} <= kinds else CHANGED if len(kinds) > 1 else STABLE
            out.append(Direction(code, attribute, value, n_in, signs, rates, verdict, ref, ps))
    return out


def summarise_directions(found: Sequence[Direction]) -> dict[str, Any]:
    """Counts over the (code, value) tests: tested, with a conclusion in at least one run, and of
    those how many changed or flipped between runs (the "LLM hacking" rate), and, where there is
    a reference, how many of the model's stable conclusions it shares."""
    drawn = [d for d in found if any(d.signs)]
    changed = [d for d in drawn if d.verdict == CHANGED]
    flipped = [d for d in drawn if d.verdict == FLIPPED]
    with_ref = [d for d in found if d.reference is not None]
    out: dict[str, Any] = {
        "tested": len(found), "drawn": len(drawn), "stable": len(drawn) - len(changed) - len(flipped),
        "changed": len(changed), "flipped": len(flipped),
        "unstable_share": (len(changed) + len(flipped)) / len(drawn) if drawn else None,
    }
    if with_ref:
        agree = [d for d in with_ref if d.verdict == STABLE and d.signs[0] == d.reference]
        out["reference_tested"] = len(with_ref)
        out["reference_drawn"] = sum(1 for d in with_ref if d.reference)
        out["stable_and_as_reference"] = len(agree)
        out["run0_as_reference"] = sum(1 for d in with_ref if d.signs[0] == d.reference)
    return out


def perturb_codebook(codebook: Codebook, *, seed: int, drop_example: bool = False) -> Codebook:
    """The codebook with each code's include and example lists shuffled (seeded), and with
    drop_example one item left out of each list that has three or more. Names, definitions and
    exclude criteria are kept as written.

    >>> from models.codebook import seed_codebook
    >>> cb = seed_codebook()
    >>> sorted(perturb_codebook(cb, seed=1)["trust"].include) == sorted(cb["trust"].include)
    True
    """
    rng = np.random.default_rng(seed)

    def shuffle(items: tuple[str, ...]) -> tuple[str, ...]:
        order = [items[i] for i in rng.permutation(len(items))]
        if drop_example and len(order) >= 3:
            order.pop(int(rng.integers(len(order))))
        return tuple(order)

    codes = {path: replace(code, include=shuffle(code.include), examples=shuffle(code.examples)) for path, code in codebook.codes.items()}
    return replace(codebook, codes=codes)
