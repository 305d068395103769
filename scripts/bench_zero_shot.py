"""Zero-shot benchmark: do the codebook's suggestions hold up on text the project was not built from?

    python scripts/bench_zero_shot.py [--datasets litreview,interview,transcripts,benoit | heldout]
        [--threshold 0.5] [--out bench-results/zero_shot.json] [--variants] [--ceiling]

Every dataset is written as an input file and coded by the real `loupe code` command (a
subprocess, output in a temporary folder), so the figures are the ones a user gets. The
suggestions it writes are then read back and compared with the gold codes:

- litreview: 50 paragraphs of the seed study's literature review (../shared/datasets/
  thesis_litreview_themes), gold = the theme of the section each stands in; all on-topic; seed
  codebook.
- interview: hand-written interview turns (eval/data/interview_turns/turns.jsonl): on-topic turns
  with a gold code, off-topic turns (gold "none") and lines that are not data; seed codebook.
- transcripts: the same kind of turns inside whole transcripts (eval/data/interview_turns/
  transcripts/*.txt, gold in gold.jsonl), coded as files, as a researcher would; seed codebook.
- heldout: three interviews written after the scorer, the policy and the seed codebook were chosen
  (eval/data/heldout_interviews, see its README), scored as the transcripts are; seed codebook.
  Run only when named (`--datasets heldout`), and refused with --variants and --ceiling.
- benoit: 7,342 manifesto sentences (Benoit et al. 2016), one code "immigration"
  (eval/data/benoit_immigration_codebook.yaml, written from the concept, not from the sentences),
  gold = the crowd majority (ties: no) on the ordinary sentences, and the expert answer on the
  gold items.

A passage is one input row (or one gold turn of a transcript); when `loupe code` splits it into
several segments, its suggestions are those of all its segments. Metrics per dataset:
- top-1 accuracy: the best suggestion's top-level code equals the gold one (on-topic passages;
  a passage without a suggestion counts as "none", so as wrong);
- Cohen's kappa on the top-level code over on- and off-topic passages ("none" is a category);
- coverage: share of on-topic passages with any suggestion; off-topic coded: share of off-topic
  passages with any suggestion; not-data coded: the same for lines that are not data;
- precision and recall per top-level code at the operating threshold (a passage counts for a code
  when any of its suggestions is that code or below it).

--variants also scores design variants of the zero-shot scorer and of its proposal policy
in-process, from one encoding of the segments `loupe code` made (docs/zero-shot.md). --ceiling
fits a supervised logistic regression on each set's own gold by stratified 5-fold (the on-topic
passages' embeddings): how far the encoder's embeddings tell the codes apart at all.

Writes JSON with the git commit, the codebook fingerprints and the settings beside the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scripts.zero_shot_datasets import ALL, HELD_OUT, INTERVIEWS, ROOT, SHARED, Dataset, load_datasets
from scripts.zero_shot_scoring import POLICIES, VARIANTS, evaluate, fmt, print_ceiling, print_variants, run_ceiling, run_variants

console = Console(width=150)


# -- running `loupe code` ----------------------------------------------------------------------------
def run_loupe_code(dataset: Dataset, work: Path, threshold: float | None, cache: bool) -> dict:
    """Write the dataset's inputs, run `loupe code` on them; returns segments, suggestions and the command."""
    inputs_dir, out_dir = work / f"{dataset.name}-inputs", work / f"{dataset.name}-out"
    inputs_dir.mkdir(parents=True, exist_ok=True)
    paths, options = dataset.write(inputs_dir)
    cmd = [sys.executable, "-m", "scripts.cli", "code", *map(str, paths), "--out", str(out_dir),
           "--codebook", dataset.codebook, "--quiet", "--overwrite", *options]
    if threshold is not None:
        cmd += ["--threshold", str(threshold)]
    if not cache:
        cmd.append("--no-cache")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"loupe code failed on {dataset.name} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")

    def read(name: str) -> list[dict]:
        with open(out_dir / name, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    segments, suggestions = read("segments.jsonl"), read("suggestions.jsonl")
    shown = ["loupe", "code", f"<{len(paths)} file(s)>", *cmd[cmd.index("--out"):]]
    return {"segments": segments, "suggestions": suggestions, "seconds": round(seconds, 1),
            "command": " ".join(shown), "summary": json.loads((out_dir / "summary.json").read_text())}


# -- provenance --------------------------------------------------------------------------------------
def _git() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty_files": git("status", "--porcelain", "--untracked-files=no").splitlines()}


def _settings(threshold: float | None) -> dict:
    from dataclasses import asdict

    from models.classifiers.zero_shot import ZeroShotConfig
    from service.settings import get_settings

    s = get_settings(threshold=threshold) if threshold is not None else get_settings()
    return {"threshold": s.threshold, "embedder_backend": s.embedder_backend, "embedder_model": s.embedder_model,
            "precision": s.precision, "zero_shot_config": asdict(ZeroShotConfig(threshold=s.threshold))}


def _codebook_record(spec: str) -> dict:
    from models.codebook import resolve_codebook

    cb = resolve_codebook(spec)
    path = Path(spec).resolve()
    shown = spec if spec == "seed" or not path.is_relative_to(ROOT) else str(path.relative_to(ROOT))
    return {"spec": shown, "name": cb.name, "version": cb.version, "fingerprint": cb.fingerprint}


# -- report ---------------------------------------------------------------------------------------
def print_table(results: dict[str, dict], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("dataset", "on / off / not-data", "top-1 acc (on)", "kappa", "coverage", "on-topic uncoded",
                "off-topic coded", "not-data coded", "acc with also"):
        table.add_column(col, justify="right" if col != "dataset" else "left")
    for name, m in results.items():
        table.add_row(name, f"{m['on_topic']} / {m['off_topic']} / {m['not_data']}", fmt(m["top1_accuracy_on_topic"]),
                      fmt(m["kappa"]), fmt(m["coverage"]), str(m["on_topic_without_suggestion"]),
                      fmt(m["off_topic_coded"]), fmt(m["not_data_coded"]), fmt(m.get("top1_accuracy_on_topic_with_also")))
    console.print(table)
    per = Table(title="precision / recall per top-level code at the operating threshold", title_justify="left")
    per.add_column("dataset")
    per.add_column("code")
    for col in ("gold", "proposed", "precision", "recall"):
        per.add_column(col, justify="right")
    for name, m in results.items():
        for c, v in m["per_code"].items():
            per.add_row(name, c, str(v["gold"]), str(v["proposed"]), fmt(v["precision"]), fmt(v["recall"]))
    console.print(per)


def main(
    datasets: Annotated[str, typer.Option(help="comma-separated: " + ", ".join(ALL) + " (the default), or the held-out " + ", ".join(HELD_OUT))] = ",".join(ALL),
    threshold: Annotated[float | None, typer.Option(help="passed to `loupe code --threshold` (default: the settings')")] = None,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/zero_shot.json"),
    interviews: Annotated[Path, typer.Option(help="folder with turns.jsonl and transcripts/")] = INTERVIEWS,
    shared: Annotated[Path, typer.Option(help="the shared datasets folder")] = SHARED,
    work: Annotated[Path | None, typer.Option(help="keep the inputs and `loupe code` outputs here (default: a temporary folder)")] = None,
    cache: Annotated[bool, typer.Option(help="let `loupe code` use its persistent embedding cache")] = True,
    label: Annotated[str, typer.Option(help="a name for this run, stored in the JSON")] = "",
    variants: Annotated[bool, typer.Option(help="also score the scorer's design variants and policies in-process (docs/zero-shot.md)")] = False,
    ceiling: Annotated[bool, typer.Option(help="also fit a supervised classifier on each set's own gold (k-fold): what the embeddings can tell apart")] = False,
) -> None:
    names = [n.strip() for n in datasets.split(",") if n.strip()]
    if (variants or ceiling) and set(names) & set(HELD_OUT):
        raise typer.BadParameter(f"{', '.join(sorted(set(names) & set(HELD_OUT)))} is held out: nothing is chosen on it, so "
                                 "--variants and --ceiling do not run on it (drop it from --datasets)", param_hint="--datasets")
    sets = load_datasets(names, interviews, shared)
    record: dict = {"label": label, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "git": _git(), "settings": _settings(threshold),
                    "datasets": {}, "results": {}}
    tmp = None if work else tempfile.TemporaryDirectory(prefix="bench-zero-shot-")
    folder = work or Path(tmp.name)  # type: ignore[union-attr]
    runs = {}
    try:
        for ds in sets:
            from models.codebook import resolve_codebook

            console.print(f"[bold]{ds.name}[/]: loupe code ...", highlight=False)
            run = run_loupe_code(ds, folder, threshold, cache)
            runs[ds.name] = run
            ranked = ds.assign(run["segments"], run["suggestions"])
            tops = [c.path for c in resolve_codebook(ds.codebook) if c.parent is None]
            record["datasets"][ds.name] = {"codebook": _codebook_record(ds.codebook), "command": run["command"],
                                          "segments": len(run["segments"]), "suggestions": len(run["suggestions"]),
                                          "seconds": run["seconds"], "note": ds.note}
            if ds.late_gold is not None:
                ds.evaluations = {name: ds.late_gold(run["segments"]) for name in ds.evaluations}
            for ev_name, gold in ds.evaluations.items():
                record["results"][ev_name] = evaluate(gold, ranked, tops)
        print_table(record["results"], f"Zero-shot suggestions through `loupe code` (threshold {record['settings']['threshold']})")
        if variants:
            record["variants"] = run_variants(sets, runs, VARIANTS)
            print_variants(record["variants"], "Scorer variants (one change each from the winner; in-process, same segments)")
            record["policies"] = run_variants(sets, runs, POLICIES)
            print_variants(record["policies"], "Proposal policy (the winning scorer; center = similarity at score 0.5)")
        if ceiling:
            record["ceiling"] = run_ceiling(sets, runs)
            print_ceiling(record["ceiling"])
    finally:
        if tmp is not None:
            tmp.cleanup()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False))
    console.print(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    typer.run(main)
