"""Learning-curve benchmark: how many analyst decisions until the model codes like a human?

    python scripts/bench_learning.py --dataset qabstracts|benoit [--seeds 3] [--tune/--no-tune] [--out bench-results]

A simulated analyst answers suggestions from the human consensus (eval.simulation). After 0, 25,
50, 100, 200 and 400 decisions the model is scored on held-out units against the consensus (macro
Cohen's kappa and Krippendorff's alpha), for the learned review order and for random order,
averaged over seeds, beside the human coders' own agreement:
- qabstracts: held-out abstracts (30%); the two coders' independent first passes give the human
  ceiling (macro kappa of first_A vs first_B on the same held-out sentences).
- benoit: held-out sentences (30%, gold items always held out); the human reference is each crowd
  worker's alpha against the majority of the *other* workers (median over workers with at least
  20 held-out sentences); the 136 expert gold items are scored separately.
Both codebooks are exclusive (a sentence has one rhetorical role; a sentence is about immigration
or not), so the head is the multinomial one on context and word features (the per-code heads
serve multi-label codebooks). With --tune (the default), from 100 decisions the encoder is
fine-tuned on the decisions at each checkpoint, and a tuned encoder is used where it has beaten
the frozen one on decisions it was not tuned on (eval.simulation).
Writes learning-<dataset>.json, learning-<dataset>.png and a reliability plot of the final model.
"""

from __future__ import annotations

import json
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
CHECKPOINTS = (0, 25, 50, 100, 200, 400)


def _embed(texts: list[str]):
    from models.base import Span
    from service.pipeline import build_embedder
    from service.settings import get_settings

    embedder = build_embedder(get_settings())
    spans = [[Span(0, len(t))] if t else [] for t in texts]
    return embedder, embedder.encode_segments(texts, spans)


def _human_reference(data, test: np.ndarray, dataset: str) -> dict:
    from eval.agreement import krippendorff_alpha
    from eval.simulation import score

    if dataset == "qabstracts":
        a, b = data.coders["first_A"][test], data.coders["first_B"][test]
        kappa, alpha = score(a, b, data.codes)
        return {"what": "first_A vs first_B (independent first passes)",
                "macro_kappa": float(np.nanmean(list(kappa.values()))), "macro_alpha": float(np.nanmean(list(alpha.values()))),
                "per_code_kappa": kappa}
    votes = np.stack([c[test, 0] for c in data.coders.values()], axis=1)  # (n_test, workers), -1 missing
    alphas_loo, alphas_all = [], []
    for w in range(votes.shape[1]):
        mine = votes[:, w]
        rows = np.flatnonzero(mine >= 0)
        if len(rows) < 20:
            continue
        others = np.delete(votes[rows], w, axis=1)
        yes, total = (others == 1).sum(axis=1), (others >= 0).sum(axis=1)
        keep = (total > 0) & (yes * 2 != total)
        loo = (yes * 2 > total).astype(float)
        alphas_loo.append(krippendorff_alpha(np.column_stack([mine[rows][keep], loo[keep]]).astype(float)))
        alphas_all.append(krippendorff_alpha(np.column_stack([mine[rows], data.truth[test][rows, 0]]).astype(float)))
    loo_ok = [a for a in alphas_loo if not np.isnan(a)]
    all_ok = [a for a in alphas_all if not np.isnan(a)]
    return {"what": "single crowd worker vs the majority of the other workers (median)",
            "workers": len(loo_ok), "median_alpha": float(np.median(loo_ok)),
            "median_alpha_vs_majority_including_self": float(np.median(all_ok))}


def _tuning(embedder, data, steps_run: list[int]):
    from eval.simulation import Tuning
    from models.classifiers.finetune import (
        FineTuneConfig,
        encode,
        fine_tune,
        load_trainable,
        planned_steps,
    )
    from models.classifiers.learned import segment_features

    def tune(rows: np.ndarray, labels: list) -> np.ndarray:
        model = load_trainable(embedder.source)
        config = FineTuneConfig(seed=0)
        steps_run.append(planned_steps(labels, config))
        fine_tune(model, [data.texts[i] for i in rows], labels, config)
        return encode(model, data.texts)

    return Tuning(tune=tune, featurize=lambda v: segment_features(v, data.doc_ids, data.ordinals, data.texts))


def main(
    dataset: str = typer.Option("qabstracts", help="qabstracts or benoit"),
    seeds: int = typer.Option(3),
    tune: bool = typer.Option(True, help="fine-tune the encoder on the decisions from 100 on"),
    out: Path = typer.Option(Path("bench-results")),
) -> None:
    from eval.datasets import load_benoit, load_qabstracts
    from eval.report import reliability_plot
    from eval.simulation import Simulation, predict_labels, score, simulate
    from models.classifiers.learned import HeadConfig, segment_features
    from models.classifiers.zero_shot import ZeroShotClassifier
    from models.codebook import load_codebook, parse_codebook

    console = Console()
    t0 = time.perf_counter()
    if dataset == "qabstracts":
        data = load_qabstracts(SHARED / "qabstracts_se_abstracts")
        codebook = load_codebook(Path(str(resources.files("eval.data").joinpath("qabstracts_codebook.yaml"))))
    elif dataset == "benoit":
        data = load_benoit(SHARED / "benoit2016_crowd_immigration")
        codebook = parse_codebook({"name": "immigration", "exclusive": True, "codes": [{
            "id": "immigration", "name": "Immigration policy",
            "definition": "The sentence refers to immigration policy: immigrants, asylum, borders, visas, migration controls or integration of migrants.",
            "examples": ["We will introduce an annual limit on the number of non-EU economic migrants.",
                         "Asylum seekers should be treated fairly and their claims decided quickly."]}]})
    else:
        raise typer.BadParameter("dataset must be qabstracts or benoit")
    embedder, enc = _embed(data.texts)
    clf = ZeroShotClassifier(codebook, embedder)
    prior_all = clf.score(enc)
    prior = prior_all[:, [clf.codes.index(c) for c in data.codes]]
    features = segment_features(enc.vectors, data.doc_ids, data.ordinals, data.texts)
    steps_run: list[int] = []  # optimiser steps of each fine-tuning run (finetune.planned_steps)
    tuning = _tuning(embedder, data, steps_run) if tune else None
    console.print(f"{dataset}: {len(data.texts)} units, codes {data.codes}; embedded and scored in {time.perf_counter() - t0:.0f} s")

    rng = np.random.default_rng(12345)
    n = len(data.texts)
    if dataset == "qabstracts":
        docs = np.array(sorted(set(data.doc_ids)))
        test_docs = set(rng.choice(docs, size=int(0.3 * len(docs)), replace=False))
        is_test = np.array([d in test_docs for d in data.doc_ids])
    else:
        assert data.gold is not None, "benoit carries expert gold items"
        is_test = rng.random(n) < 0.3
        is_test |= data.gold[:, 0] >= 0
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    human = _human_reference(data, test, dataset)
    at_least_one = False

    def head(seed: int) -> HeadConfig:
        return HeadConfig(C=1.0, exclusive=codebook.exclusive, seed=seed)

    orderings: tuple[Literal["learned", "random"], ...] = ("learned", "random")
    runs: dict[str, list[list[dict[str, Any]]]] = {o: [] for o in orderings}
    final: Simulation | None = None
    for seed in range(seeds):
        for ordering in orderings:
            t1 = time.perf_counter()
            sim = simulate(features, enc.vectors, prior, data.truth, train, test, data.codes, ordering=ordering,
                           checkpoints=CHECKPOINTS, at_least_one=at_least_one, seed=seed, head=head(seed), tuning=tuning)
            runs[ordering].append([vars(p) for p in sim.curve])
            if ordering == "learned" and seed == 0:
                final = sim
            console.print(f"seed {seed} {ordering}: {time.perf_counter() - t1:.0f} s, macro kappa at 400: {sim.curve[-1].macro_kappa:.3f}")

    def mean_at(ordering: str, key: str) -> list[float]:
        return [float(np.mean([run[i][key] for run in runs[ordering]])) for i in range(len(CHECKPOINTS))]

    summary = {o: {"macro_kappa": mean_at(o, "macro_kappa"), "macro_alpha": mean_at(o, "macro_alpha")} for o in runs}
    record = {"dataset": dataset, "units": n, "train": len(train), "test": len(test), "codes": data.codes,
              "checkpoints": list(CHECKPOINTS), "seeds": seeds, "mean": summary, "runs": runs, "human": human,
              "cpus": os.cpu_count(), "tuning": tune, "fine_tune_steps": sorted(set(steps_run))}

    # calibration of the learned model after 400 decisions (seed 0), on the held-out units
    assert final is not None, "seed 0's learned run is the first run"
    proba_test = final.model.predict_proba(final.features[test], prior[test])
    record["calibrated_codes"] = [c for c in data.codes if final.model.calibrated(c)]
    out.mkdir(parents=True, exist_ok=True)
    reliability_plot({"after 400 decisions": (proba_test, data.truth[test])}, out / f"reliability-{dataset}.png")
    record["final_ece"] = runs["learned"][0][-1]["ece"]

    out.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"{dataset}: model vs consensus on {len(test)} held-out units (mean of {seeds} seeds)")
    table.add_column("decisions", justify="right")
    for col in ("learned κ", "random κ", "learned α", "random α", "tuned encoder used (learned, random)"):
        table.add_column(col, justify="right")
    for i, c in enumerate(CHECKPOINTS):
        used = [sum(bool(run[i]["tuning"].get("used")) for run in runs[o]) for o in ("learned", "random")]
        table.add_row(str(c), *(f"{summary[o][k][i]:.3f}" for k in ("macro_kappa", "macro_alpha") for o in ("learned", "random")),
                      f"{used[0]}/{seeds}, {used[1]}/{seeds}")
    console.print(table)
    if steps_run:
        console.print(f"fine-tuning runs: {len(steps_run)}, optimiser steps each: {sorted(set(steps_run))}")
    if dataset == "qabstracts":
        console.print(f"human ceiling ({human['what']}): macro κ {human['macro_kappa']:.3f}, α {human['macro_alpha']:.3f}")
    else:
        console.print(f"human reference ({human['what']}): α {human['median_alpha']:.3f} over {human['workers']} workers "
                      f"(against a majority that includes the worker: {human['median_alpha_vs_majority_including_self']:.3f})")
        assert data.gold is not None, "benoit carries expert gold items"
        gold_rows = np.flatnonzero(data.gold[:, 0] >= 0)
        at_200 = simulate(features, enc.vectors, prior, data.truth, train, gold_rows, data.codes, ordering="learned",
                          checkpoints=(100, 200), at_least_one=False, seed=0, head=head(0), tuning=tuning)
        proba = at_200.model.predict_proba(at_200.features[gold_rows], prior[gold_rows])
        kappa, alpha = score(predict_labels(proba, False, exclusive=codebook.exclusive), data.gold[gold_rows], data.codes)
        record["gold_after_200"] = {"items": len(gold_rows), "kappa": kappa["immigration"], "alpha": alpha["immigration"]}
        console.print(f"expert gold ({len(gold_rows)} items), model after 200 decisions: κ {kappa['immigration']:.3f}, α {alpha['immigration']:.3f}")
    (out / f"learning-{dataset}.json").write_text(json.dumps(record, indent=2, default=float))
    _plot(record, out / f"learning-{dataset}.png")
    console.print(f"wrote {out / f'learning-{dataset}.json'} and {out / f'learning-{dataset}.png'}")


def _plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    xs = record["checkpoints"]
    for ordering, style in (("learned", "o-"), ("random", "s--")):
        runs = np.array([[p["macro_kappa"] for p in run] for run in record["runs"][ordering]])
        ax.plot(xs, runs.mean(axis=0), style, label=f"{ordering} order (mean of {len(runs)} seeds)")
        ax.fill_between(xs, runs.min(axis=0), runs.max(axis=0), alpha=0.15)
    human = record["human"]
    ref = human.get("macro_kappa", human.get("median_alpha"))
    ax.axhline(ref, color="black", linestyle=":", label="human coders")
    ax.set_xlabel("analyst decisions")
    ax.set_ylabel("macro Cohen's kappa vs consensus" if "macro_kappa" in human else "kappa (model) / alpha (workers)")
    ax.set_title(f"{record['dataset']}: learning from decisions")
    ax.set_ylim(-0.05, 1.0)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    typer.run(main)
