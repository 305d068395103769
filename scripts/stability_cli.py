"""`loupe stability`: is the model a reliable coder? It codes the same texts K times under small,
documented perturbations (eval.stability.plan_runs) and reports its agreement with itself per code
beside human-human agreement, and whether each conclusion about a code's frequency per case
attribute keeps its direction across runs (Baumann et al. 2025, "LLM hacking"). docs/agreement.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from models.base import LoupeError

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def _alpha(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "—"
    text = f"{e['value']:.3f}"
    if e.get("ci_low") is not None:
        text += f" [{e['ci_low']:.2f}, {e['ci_high']:.2f}]"
    return text + (" (small n)" if e.get("small_n") else "")


def _human(codings: Path, *, unit_column: str, coder_column: str, code_column: str, where: list[str], model: str | None,
           code_map: dict[str, str], ids: list[str], codes: list[str]) -> tuple[np.ndarray, list[str]]:
    """int8 (n_units, n_coders, n_codes) human presence aligned to the units and the model's codes."""
    from eval.agree_files import AgreeOptions, read_codings
    from eval.codings import build_table

    rows, _ = read_codings(AgreeOptions(path=codings, unit_column=unit_column, coder_column=coder_column,
                                        code_column=code_column, where=tuple(where)))
    table = build_table(rows)
    coders = [i for i, c in enumerate(table.coders) if c != model]
    row = {u: i for i, u in enumerate(table.units)}
    out = np.full((len(ids), len(coders), len(codes)), -1, dtype=np.int8)
    hit = [row.get(u, -1) for u in ids]
    for h, human_code in enumerate(table.codes):
        target = code_map.get(human_code, human_code)
        if target not in codes:
            continue
        c = codes.index(target)
        for i, r in enumerate(hit):
            if r >= 0:
                out[i, :, c] = np.maximum(out[i, :, c], table.presence[r, coders, h])
    return out, [table.coders[i] for i in coders]


def stability(
    texts: Annotated[list[Path], typer.Argument(help="the texts the model codes: files or folders (.txt .md .docx .vtt .srt .csv .jsonl)")],
    codebook: Annotated[str, typer.Option(help='"seed" or a codebook .yaml/.json file')] = "seed",
    runs: Annotated[int, typer.Option("--runs", "-k", min=2, help="K: how many times the model codes the texts (run 0 as configured)")] = 5,
    perturb: Annotated[str, typer.Option(help="comma-separated: order, threshold, examples, drop-example, encoder")] = "order,threshold,examples,drop-example",
    band: Annotated[float, typer.Option(min=0.0, max=0.5, help="thresholds spread over the configured one ± band")] = 0.05,
    encoder: Annotated[list[str] | None, typer.Option(help="embedding models taken in turn with --perturb encoder ('default' or a path; repeatable)")] = None,
    codings: Annotated[Path | None, typer.Option(help="human codings of the same units (as loupe agree reads them)")] = None,
    unit_column: Annotated[str, typer.Option(help="codings: the unit column")] = "unit",
    coder_column: Annotated[str, typer.Option(help="codings: the coder column")] = "coder",
    code_column: Annotated[str, typer.Option(help="codings: the code column")] = "code",
    where: Annotated[list[str] | None, typer.Option(help="codings: keep rows where column=value (repeatable)")] = None,
    model: Annotated[str | None, typer.Option(help="codings: a coder that is the model, left out of the humans")] = None,
    code_map: Annotated[list[str] | None, typer.Option(help="codings: HUMAN=MODEL, a human code that is a codebook path (repeatable)")] = None,
    unit: Annotated[str | None, typer.Option(help="segment, or document (one .csv/.jsonl row; default for a single table file)")] = None,
    text_column: Annotated[str, typer.Option(help="text column of .csv/.jsonl input")] = "text",
    id_column: Annotated[str, typer.Option(help="id column of .csv/.jsonl input (the unit id with --unit document)")] = "id",
    limit: Annotated[int | None, typer.Option(min=10, help="a seeded random sample of this many units")] = None,
    threshold: Annotated[float | None, typer.Option(help="run 0's proposal threshold (default: the setting)")] = None,
    min_n: Annotated[int, typer.Option(min=2, help="smallest group (and rest) tested for a direction")] = 10,
    alpha: Annotated[float, typer.Option(help="significance level of a direction")] = 0.05,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the alpha intervals (0: none)")] = 500,
    seed: Annotated[int, typer.Option(help="seed of the perturbations, the sample and the bootstrap")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for stability.json")] = Path("stability"),
) -> None:
    """Run the model coder K times under perturbations: its agreement with itself per code beside
    human-human agreement, and which conclusions per case attribute keep their direction."""
    from eval import stability as st
    from models.codebook import resolve_codebook
    from service.batch.inputs import ReadOptions
    from service.batch.stability import load_units, run_model
    from service.settings import get_settings

    started = time.perf_counter()
    mapping = {}
    for item in code_map or []:
        human_code, sep, model_code = item.partition("=")
        if not sep:
            _fail(f"--code-map {item!r}: write it as HUMAN=MODEL")
        mapping[human_code] = model_code
    if unit is None:
        unit = "document" if len(texts) == 1 and texts[0].suffix.lower() in (".csv", ".jsonl") else "segment"
    try:
        settings = get_settings(**({"threshold": threshold} if threshold is not None else {}))
        cb = resolve_codebook(codebook)
        plans = st.plan_runs(runs, threshold=settings.threshold, band=band, perturb=[p.strip() for p in perturb.split(",") if p.strip()],
                             encoders=encoder or [settings.embedder_model], seed=seed)
        keep = None
        if codings is not None:
            from eval.agree_files import AgreeOptions, read_codings

            rows, _ = read_codings(AgreeOptions(path=codings, unit_column=unit_column, coder_column=coder_column,
                                                code_column=code_column, where=tuple(where or ())))
            keep = {r.unit for r in rows}
        units = load_units(texts, read=ReadOptions(text_column=text_column, id_column=id_column), unit=unit, keep=keep, limit=limit, seed=seed)
        if not units.ids:
            _fail("no units to code" + (" that the codings file also has (check --unit and --id-column)" if keep is not None else ""))
        with err.status(f"Coding {len(units.ids)} units ({len(units.segments)} segments) {runs} times..."):
            coded, codes, seconds = run_model(units, cb, plans, settings=settings,
                                              progress=lambda k, s: err.print(f"run {k}: {s:.1f} s", highlight=False))
        human = coders = None
        if codings is not None:
            human, coders = _human(codings, unit_column=unit_column, coder_column=coder_column, code_column=code_column,
                                   where=where or [], model=model, code_map=mapping, ids=units.ids, codes=codes)
    except (LoupeError, ValueError) as exc:
        _fail(str(exc))
        return
    report = _report(st, coded, codes, units, human, coders, plans, seconds, min_n=min_n, alpha=alpha, n_boot=bootstrap, seed=seed)
    report["seconds_total"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "stability.json").write_text(json.dumps(report, indent=1, default=float), encoding="utf-8")
    _print(report)
    console.print(f"Wrote {out / 'stability.json'} ({report['seconds_total']:.0f} s)", highlight=False)


def _report(st: Any, coded: np.ndarray, codes: list[str], units: Any, human: np.ndarray | None, coders: list[str] | None,
            plans: list[Any], seconds: list[float], *, min_n: int, alpha: float, n_boot: int, seed: int) -> dict[str, Any]:
    used = [c for c in range(len(codes)) if coded[:, :, c].any() or (human is not None and (human[:, :, c] == 1).any())]
    names = [codes[c] for c in used]
    runs = coded[:, :, used]
    report: dict[str, Any] = {
        "units": len(units.ids), "segments": len(units.segments), "runs": [p.as_dict() for p in plans], "seconds_per_run": seconds,
        "codes": names, "retest": st.retest_agreement(runs, names, n_boot=n_boot, seed=seed),
    }
    reference = None
    if human is not None:
        h = human[:, :, used]
        report["human_coders"] = len(coders or [])
        report["human"] = st.human_agreement(h, names, n_boot=n_boot, seed=seed)
        reference = st.majority(h)
        report["model_vs_majority"] = st.model_vs_reference(runs, reference, names)
    found = []
    for name, values in units.attributes.items():
        found.extend(st.directions(runs, names, name, values, min_n=min_n, alpha=alpha, reference=reference))
    report["directions"] = [d.as_dict() for d in found]
    report["directions_summary"] = st.summarise_directions(found)
    return report


def _print(report: dict[str, Any]) -> None:
    plans = report["runs"]
    console.print(f"{report['units']} units ({report['segments']} segments), {len(plans)} runs; thresholds "
                  + ", ".join(f"{p['threshold']:.3f}" for p in plans) + "; seconds per run "
                  + ", ".join(f"{s:.0f}" for s in report["seconds_per_run"]), highlight=False)
    t = Table(title="The model against itself (test-retest Krippendorff's α over the runs) and the humans", title_justify="left")
    for col in ("code", "applied per run", "units changed", "test-retest α", "human-human α", "model vs human majority α"):
        t.add_column(col)
    for code in report["codes"]:
        r = report["retest"][code]
        applied = f"{min(r['applied'])}–{max(r['applied'])}" if min(r["applied"]) != max(r["applied"]) else str(r["applied"][0])
        human = _alpha(report.get("human", {}).get(code)) if "human" in report else "no codings"
        mv = report.get("model_vs_majority", {}).get(code)
        versus = "—" if not mv or mv["min"] is None else f"{mv['min']:.3f} to {mv['max']:.3f}"
        t.add_row(code, applied, f"{r['units_changed']}/{report['units']}", _alpha(r), human, versus)
    console.print(t)
    s = report["directions_summary"]
    line = (f"Directions: {s['tested']} (code, attribute value) tests; {s['drawn']} conclusions drawn in at least one run: "
            f"{s['stable']} stable, {s['changed']} changed, {s['flipped']} flipped")
    if s["unstable_share"] is not None:
        line += f" ({s['unstable_share']:.0%} unstable)"
    if "reference_tested" in s:
        line += (f"; the human majority draws {s['reference_drawn']} of {s['reference_tested']}, and the model's run 0 "
                 f"matches it on {s['run0_as_reference']}")
    console.print(line, highlight=False)
    flagged = [d for d in report["directions"] if d["verdict"] != "stable"]
    if flagged:
        t = Table(title="Conclusions that do not hold across runs", title_justify="left")
        for col in ("code", "attribute = value", "n", "per run (+ more, − less, 0 none)", "rate in group per run", "humans"):
            t.add_column(col)
        sign = {1: "+", -1: "−", 0: "0"}
        for d in flagged[:25]:
            ref = "" if d["reference"] is None else sign[d["reference"]]
            t.add_row(d["code"], f"{d['attribute']} = {d['value']}", str(d["n"]), " ".join(sign[x] for x in d["signs"]),
                      " ".join(f"{a:.2f}" for a, _ in d["rates"]), ref)
        console.print(t)
        if len(flagged) > 25:
            console.print(f"... and {len(flagged) - 25} more in stability.json", highlight=False)
