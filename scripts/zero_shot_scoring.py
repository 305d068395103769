"""Scoring for the zero-shot benchmark (scripts/bench_zero_shot.py): the metrics of a gold set
against ranked suggestions, the scorer's design variants and policies scored in-process from one
encoding of the segments `loupe code` made, and the supervised ceiling (--ceiling)."""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
from rich.console import Console
from rich.table import Table

from scripts.zero_shot_datasets import NONE, Dataset, Gold, Ranked, top

console = Console(width=150)


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


# -- metrics -----------------------------------------------------------------------------------------
def evaluate(gold: list[Gold], ranked: dict[str, Ranked], codes: list[str]) -> dict:
    """Metrics of one gold set against the passages' ranked suggestions (see the module docstring).

    codes: the codebook's top-level codes, for precision and recall per code.
    """
    from sklearn.metrics import cohen_kappa_score, precision_score, recall_score

    def best(g: Gold) -> str:
        r = ranked.get(g.id) or []
        return top(r[0][0]) if r else NONE

    on = [g for g in gold if g.kind == "on_topic"]
    off = [g for g in gold if g.kind == "off_topic"]
    not_data = [g for g in gold if g.kind == "not_data"]
    scored = on + off
    y_true = [g.gold for g in scored]
    y_pred = [best(g) for g in scored]
    out: dict = {"passages": len(gold), "on_topic": len(on), "off_topic": len(off), "not_data": len(not_data)}
    out["top1_accuracy_on_topic"] = float(np.mean([best(g) == g.gold for g in on])) if on else None
    out["accuracy"] = float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)])) if scored else None
    out["kappa"] = float(cohen_kappa_score(y_true, y_pred)) if len(set(y_true) | set(y_pred)) > 1 else None
    out["coverage"] = float(np.mean([bool(ranked.get(g.id)) for g in on])) if on else None
    out["on_topic_without_suggestion"] = sum(not ranked.get(g.id) for g in on)
    out["off_topic_coded"] = float(np.mean([bool(ranked.get(g.id)) for g in off])) if off else None
    out["not_data_coded"] = float(np.mean([bool(ranked.get(g.id)) for g in not_data])) if not_data else None
    if any(g.also for g in on):
        out["top1_accuracy_on_topic_with_also"] = float(np.mean([best(g) in (g.gold, *g.also) for g in on]))
    out["suggestions_per_coded_passage"] = float(np.mean([len(ranked[g.id]) for g in scored if ranked.get(g.id)])) \
        if any(ranked.get(g.id) for g in scored) else 0.0
    per_code = {}
    for c in codes:
        truth = [g.gold == c for g in scored]
        pred = [any(top(code) == c for code, _ in ranked.get(g.id, [])) for g in scored]
        per_code[c] = {"gold": int(sum(truth)), "proposed": int(sum(pred)),
                       "precision": float(precision_score(truth, pred, zero_division=0)),
                       "recall": float(recall_score(truth, pred, zero_division=0))}
    out["per_code"] = per_code
    out["confusion"] = _confusion(y_true, y_pred)
    return out


def _confusion(y_true: list[str], y_pred: list[str]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a, b in zip(y_true, y_pred, strict=True):
        table[a][b] += 1
    return {a: dict(row) for a, row in table.items()}


# -- design variants (in-process, one encoding) ------------------------------------------------------
# Each variant changes the winner (ZeroShotConfig's defaults) in one respect; "655f059" is the
# design before issue 21. Threshold-free figures compare designs whose scores sit on different
# scales; the operating-point figures use each variant's own `center`.
VARIANTS: dict[str, dict] = {
    "winner (defaults)": {},
    "655f059: best prototype, parent = best descendant, exclude subtracts": {
        "prototypes": "max", "hierarchy": "max", "exclude": "subtract", "sense_phrases": False, "not_coded": "none",
        "center": 0.48, "relative": 1.0},
    "prototypes: best single prototype": {"prototypes": "max", "center": 0.48},
    "prototypes: mean of similarities": {"prototypes": "mean", "center": 0.2},
    "prototypes: definition weighs 2 examples": {"definition_weight": 2.0},
    "prototypes: definition weighs 3 examples": {"definition_weight": 3.0},
    "prototypes: definition weighs half an example": {"definition_weight": 0.5},
    "hierarchy: parent = best descendant": {"hierarchy": "max"},
    "unit: whole passage only": {"unit": "passage"},
    "unit: best sentence only": {"unit": "sentence"},
    "unit: mean of passage and best sentence": {"unit": "mix"},
    "exclude: none": {"exclude": "none", "sense_phrases": False},
    "exclude: subtract (weight 0.5)": {"exclude": "subtract"},
    "exclude: veto without sense phrases": {"sense_phrases": False},
    "exclude: criteria that name phrases only mask": {"phrase_excludes": "mask"},
    "not-coded passages: no veto": {"not_coded": "none"},
    "normalise per code over the corpus": {"normalise": "corpus"},
}
POLICIES: dict[str, dict] = {
    **{f"center {c}": {"center": c} for c in (0.25, 0.3, 0.35, 0.4)},
    **{f"relative {r}": {"relative": r} for r in (0.0, 0.05, 0.2, 1.0)},
    "temperature 0.1": {"temperature": 0.1},
}


def _segments(records: list[dict]):
    from models.base import Segment, Span

    return [Segment(id=r["id"], document_id=r["document"], ordinal=int(r["ordinal"]), start=int(r["start"]), end=int(r["end"]),
                    text=r["text"], speaker=r["speaker"], sentences=tuple(Span(int(a), int(b)) for a, b in r["sentences"]))
            for r in records]


def run_variants(sets: list[Dataset], runs: dict[str, dict], variants: dict[str, dict]) -> dict:
    """Score every variant on every dataset from one encoding of the segments `loupe code` made.

    Only the segments `loupe code` coded are scored (not-data segments stay uncoded, as there).
    Returns {variant: {evaluation: metrics}}; metrics add to `evaluate`'s the threshold-free
    forced_top1 (the best code, whatever its score) and auc (best score, on- vs off-topic).
    """
    from dataclasses import replace

    from sklearn.metrics import roc_auc_score

    from models.base import Encoded
    from models.classifiers.zero_shot import ZeroShotClassifier, ZeroShotConfig
    from models.codebook import resolve_codebook
    from service.pipeline import build_embedder
    from service.settings import get_settings

    settings = get_settings()
    embedder = build_embedder(settings)
    out: dict[str, dict] = {name: {} for name in variants}
    for ds in sets:
        records = [r for r in runs[ds.name]["segments"] if r.get("coded", True)]
        segs = _segments(records)
        encoded = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs])
        units = ds.units(records)
        codebook = resolve_codebook(ds.codebook)
        tops = [c.path for c in codebook if c.parent is None]
        for name, change in variants.items():
            clf = ZeroShotClassifier(codebook, embedder, replace(ZeroShotConfig(threshold=settings.threshold), **change))
            sims, _ = clf.similarities(Encoded(encoded.vectors, encoded.sentence_vectors), segs)
            scores = clf._to_score(sims)
            chosen = clf.select(scores)
            ranked: dict[str, Ranked] = {}
            forced: dict[str, tuple[str, float]] = {}
            for pid, idx in units.items():
                if not idx:
                    continue
                best: dict[str, float] = {}
                for k in idx:
                    for c in chosen[k]:
                        best[clf.codes[c]] = max(best.get(clf.codes[c], 0.0), float(scores[k, c]))
                ranked[pid] = sorted(best.items(), key=lambda kv: -kv[1])
                row = scores[idx].max(axis=0)
                forced[pid] = (top(clf.codes[int(np.argmax(row))]), float(row.max()))
            for ev_name, gold in ds.evaluations.items():
                m = evaluate(gold, ranked, tops)
                on = [g for g in gold if g.kind == "on_topic" and g.id in forced]
                off = [g for g in gold if g.kind == "off_topic" and g.id in forced]
                m["forced_top1"] = float(np.mean([forced[g.id][0] == g.gold for g in on])) if on else None
                m["auc"] = float(roc_auc_score([1] * len(on) + [0] * len(off), [forced[g.id][1] for g in on + off])) \
                    if on and off else None
                out[name][ev_name] = m
        console.print(f"variants scored on {ds.name}", highlight=False)
    return out


def run_ceiling(sets: list[Dataset], runs: dict[str, dict], folds: int = 5, cs: tuple[float, ...] = (1.0, 10.0, 100.0)) -> dict:
    """What the encoder's embeddings can tell apart on each dataset's own gold: a logistic
    regression on the MiniLM embedding of each on-topic passage (the mean of its segments'),
    trained and scored by stratified k-fold on the dataset itself. Not a method Loupe uses: it
    shows roughly what that many decided passages of similar text could teach a linear head on
    these embeddings (not a bound on the encoder: a codebook can do better). A dataset with a single
    code, fewer than 2 * `folds` on-topic passages, or no code with `folds` passages (the
    transcripts' 11 answers) is skipped; a code with fewer passages than
    folds (the literature review's one control paragraph) is always wrong in some fold.
    Returns {evaluation: {"passages", "per_code", "zero_shot_forced_top1", "supervised": {C: {accuracy, kappa}}}}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import cohen_kappa_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from service.pipeline import build_embedder
    from service.settings import get_settings

    embedder = build_embedder(get_settings())
    forced = run_variants(sets, runs, {"winner": {}})["winner"]
    out: dict[str, dict] = {}
    for ds in sets:
        records = [r for r in runs[ds.name]["segments"] if r.get("coded", True)]
        segs = _segments(records)
        vectors = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs]).vectors
        units = ds.units(records)
        for ev_name, gold in ds.evaluations.items():
            on = [g for g in gold if g.kind == "on_topic" and units.get(g.id)]
            labels = sorted({g.gold for g in on})
            y = np.array([labels.index(g.gold) for g in on])
            if len(labels) < 2 or len(on) < 2 * folds or np.bincount(y).max() < folds:  # too few to fold (the transcripts' 11)
                continue
            x = np.stack([vectors[units[g.id]].mean(axis=0) for g in on])
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
            supervised = {}
            for c in cs:
                with warnings.catch_warnings():  # "the least populated class has only 1 member": kept, and said in the docstring
                    warnings.simplefilter("ignore", UserWarning)
                    pred = cross_val_predict(LogisticRegression(C=c, max_iter=5000), x, y, cv=cv)
                supervised[str(c)] = {"accuracy": float(np.mean(pred == y)), "kappa": float(cohen_kappa_score(y, pred))}
            out[ev_name] = {"passages": len(on), "per_code": dict(zip(labels, np.bincount(y).tolist(), strict=True)),
                            "zero_shot_forced_top1": forced.get(ev_name, {}).get("forced_top1"), "supervised": supervised}
    return out


def print_ceiling(results: dict[str, dict]) -> None:
    table = Table(title="What the embeddings tell apart: supervised logistic regression, stratified 5-fold on each set's own gold")
    cs = list(next(iter(results.values()))["supervised"]) if results else []
    for col in ("dataset", "on-topic passages", "zero-shot forced top-1", *(f"supervised acc / kappa, C={c}" for c in cs)):
        table.add_column(col, justify="right" if col != "dataset" else "left")
    for name, r in results.items():
        cells = [f"{r['supervised'][c]['accuracy']:.2f} / {r['supervised'][c]['kappa']:.2f}" for c in r["supervised"]]
        table.add_row(name, str(r["passages"]), fmt(r["zero_shot_forced_top1"], 2), *cells)
    console.print(table)


def print_variants(results: dict[str, dict], title: str) -> None:
    evs = list(next(iter(results.values())))
    table = Table(title=title, title_justify="left")
    table.add_column("variant")
    for ev in evs:
        table.add_column(ev, justify="right")
    for name, per in results.items():
        cells = []
        for ev in evs:
            m = per[ev]
            parts = [f"acc {fmt(m['top1_accuracy_on_topic'], 2)}", f"κ {fmt(m['kappa'], 2)}", f"cov {fmt(m['coverage'], 2)}"]
            if m["off_topic"]:
                parts.append(f"off {fmt(m['off_topic_coded'], 2)}")
            parts.append(f"| forced {fmt(m['forced_top1'], 2)}")
            if m["auc"] is not None:
                parts.append(f"auc {fmt(m['auc'], 2)}")
            cells.append(" ".join(parts))
        table.add_row(name, *cells)
    console.print(table)
