"""`loupe agree`: inter-coder agreement tables from a codings file."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from models.base import LoupeError

console = Console()
err = Console(stderr=True)

NAMES = {"percent": "% agree", "cohen": "Cohen κ", "scott": "Scott π", "fleiss": "Fleiss κ",
         "krippendorff": "Kripp. α", "gwet": "Gwet AC", "bp": "Brennan-Prediger"}


def _cell(e: dict[str, Any] | None) -> str:
    """value [interval]; a small-n value is marked with a dagger (explained under the tables)."""
    if not e or e.get("value") is None:
        return "—" if not e or not e.get("note") else "n/a*"
    text = f"{e['value']:.3f}"
    if e.get("ci_low") is not None:
        text += f" [{e['ci_low']:.2f}, {e['ci_high']:.2f}]"
    return text + (" †" if e.get("small_n") else "")


def _n(e: dict[str, Any] | None) -> str:
    """units / pairable units / pairable values behind an estimate."""
    if not e or "n_pairable" not in e:
        return ""
    return f"{e['n_pairable']} / {e.get('n_values', 0)}"


def _print(result, metrics: list[str], ci: float) -> None:
    data = result.as_dict()
    if data["conflicting_repeats"]:
        if not data["single_label"]:
            console.print(f"[dim]{data['conflicting_repeats']} (unit, coder) pairs carry more than one code: multi-label coding, "
                          "analysed per code as present/absent. This is expected when coders may apply several codes; if each "
                          "record was meant to replace the last, use --repeated last.[/]", highlight=False)
        else:
            console.print(f"[yellow]note:[/] {data['conflicting_repeats']} (unit, coder) pairs were coded more than once with "
                          "different codes; one record each was kept (--repeated).", highlight=False)
    shown = [m for m in metrics if m in (data["overall"] or {}) or any(m in v for v in data["per_code"].values())]
    notes: list[str] = []
    small: set[str] = set()
    if data["single_label"]:
        t = Table(title=f"Overall agreement ({data['units']} units, {len(data['coders'])} coders; {int(ci * 100)}% intervals"
                  f"{'; ' + data['weights'] + ' weights by ' + data['weight_distance'] + ' distance' if data.get('weights') else ''})", title_justify="left")
        for col in ("metric", "value [CI]", "pairable units / values", "note"):
            t.add_column(col)
        for m in shown:
            e = data["overall"].get(m)
            if e:
                t.add_row(NAMES[m], _cell(e), _n(e), e.get("note") or "")
                small.update([e["small_n_reason"]] if e.get("small_n") else [])
        console.print(t)
        diag = data["overall"].get("diagnostics")
        if diag:
            console.print(f"bias index {diag['bias_index']:.3f}" + (f", prevalence index {diag['prevalence_index']:.3f}, PABAK {diag['pabak']:.3f}" if "pabak" in diag else ""))
    two_category_label = data["single_label"] and len(data["codes"]) <= 2
    t = Table(title="Per code (present/absent)", title_justify="left")
    t.add_column("code")
    t.add_column("prevalence", justify="right")
    t.add_column("pairable units / values", justify="right")
    for m in shown:
        t.add_column(NAMES[m])
    flagged = 0
    for code, row in data["per_code"].items():
        prev = row.get("prevalence")
        cells = []
        for m in shown:
            cells.append(_cell(row.get(m)))
            if row.get(m, {}).get("note") and row[m].get("value") is None:
                notes.append(f"{code} / {NAMES[m]}: {row[m]['note']}")
        first = next((row[m] for m in shown if isinstance(row.get(m), dict)), None)
        flagged += bool(first and first.get("small_n"))
        t.add_row(code, "" if prev is None else f"{prev:.1%}", _n(first), *cells)
    if not two_category_label:  # with two categories each code's table repeats the overall one
        console.print(t)
        if flagged:
            small.add(f"{flagged} of {len(data['per_code'])} rows rest on fewer than 20 pairable units or 2 values of the rarer category")
    if data["per_coder"]:
        t = Table(title="Each coder against the majority of the others", title_justify="left")
        for col in ("coder", "units", "Cohen κ", "Kripp. α"):
            t.add_column(col)
        rows = sorted(data["per_coder"].items(), key=lambda kv: -(kv[1]["krippendorff"] if kv[1]["krippendorff"] is not None else -9))
        for coder, v in rows:
            t.add_row(coder, str(v["units"]), *(f"{v[k]:.3f}" if v[k] is not None else "—" for k in ("cohen", "krippendorff")))
        console.print(t)
        alphas = [v["krippendorff"] for v in data["per_coder"].values() if v["krippendorff"] is not None]
        if alphas:
            console.print(f"{len(alphas)} coders; median α against the rest {statistics.median(alphas):.3f} "
                          f"(range {min(alphas):.3f} to {max(alphas):.3f})")
    if data["model"]:
        t = Table(title="The model as a coder (Krippendorff's α)", title_justify="left")
        for col in ("code", "human range", "model vs humans (mean)", "model vs consensus", "verdict"):
            t.add_column(col)
        for m in data["model"]:
            lo, hi = m["human_range"]
            rng = "—" if lo is None else f"{lo:.3f} to {hi:.3f}"
            mean = "—" if m["model_mean"] is None else f"{m['model_mean']:.3f}"
            t.add_row(m["code"], rng, mean, _cell(m["model_vs_consensus"]), m["verdict"])
        console.print(t)
    if data["spans"]:
        ua = data["spans"]["unitized_alpha"]
        t = Table(title="Span level", title_justify="left")
        t.add_column("code")
        t.add_column("unitized α")
        t.add_column(f"segments matched (overlap ≥ {data['spans']['overlap_threshold']:.0%})")
        for code, a in ua.items():
            pairs = data["spans"]["overlap_agreement"].get(code, {})
            matched = ", ".join(f"{p}: {v['matched']}/{v['segments']}" for p, v in pairs.items())
            t.add_row(code, "—" if a is None else f"{a:.3f}", matched)
        console.print(t)
    for n in dict.fromkeys(notes):
        console.print(f"[dim]* {n}[/]", highlight=False)
    if small:
        console.print("[yellow]† small n[/]: " + "; ".join(sorted(small)) + ". Read these values with care; their interval is "
                      "the wider of an analytic and a Wilson interval, not the bootstrap (see docs/agreement.md).", highlight=False)


def agree(
    path: Annotated[Path, typer.Argument(help="codings file: .csv, .tsv, .jsonl or .parquet (Loupe's export/codings reads as is)")],
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="percent, cohen, scott, fleiss, krippendorff, gwet, bp (repeatable)")] = None,
    level: Annotated[Literal["nominal", "ordinal", "interval", "ratio"], typer.Option(help="Krippendorff's level of measurement")] = "nominal",
    weights: Annotated[Literal["linear", "quadratic"] | None, typer.Option(help="agreement weights for an ordered single label: linear or quadratic (weighted kappa, Gwet's AC2, weighted % agreement)")] = None,
    weight_distance: Annotated[Literal["index", "value"], typer.Option(help="distance the weights use: index (ordered categories, as R irr, scikit-learn) or value")] = "index",
    categories: Annotated[str | None, typer.Option(help="the ordered categories of a single label, comma separated (default: sorted)")] = None,
    ci: Annotated[float, typer.Option(help="confidence level of the bootstrap intervals")] = 0.95,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples (0: no intervals)")] = 1000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    unit_column: Annotated[str, typer.Option(help="column naming the unit")] = "unit",
    coder_column: Annotated[str, typer.Option(help="column naming the coder")] = "coder",
    code_column: Annotated[str, typer.Option(help="column holding the code")] = "code",
    wide: Annotated[bool, typer.Option(help="one row per unit, one column per coder")] = False,
    where: Annotated[list[str] | None, typer.Option(help="keep rows where column=value (repeatable)")] = None,
    hierarchy: Annotated[bool, typer.Option(help="a parent code counts as coded when a child is (a/b codes a)")] = False,
    model: Annotated[str | None, typer.Option(help="treat this coder as the model and compare it with the humans")] = None,
    per_coder: Annotated[bool, typer.Option(help="each coder against the majority of the others")] = False,
    overlap: Annotated[float, typer.Option(help="overlap threshold for span segment agreement")] = 0.9,
    repeated: Annotated[Literal["keep", "first", "last"], typer.Option(help="a coder coding a unit more than once: keep (all codes), first or last")] = "keep",
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for agreement.json and heatmaps.png")] = Path("agreement"),
    stability: Annotated[int, typer.Option(min=0, help="K >= 2: also code --texts K times under perturbations, the model's stability beside these coders (loupe stability has every option)")] = 0,
    texts: Annotated[list[Path] | None, typer.Option(help="with --stability: the units' texts (a .csv/.jsonl table, or files/folders; repeatable)")] = None,
    codebook: Annotated[str, typer.Option(help='with --stability: "seed" or a codebook .yaml/.json file')] = "seed",
    text_column: Annotated[str, typer.Option(help="with --stability: text column of the --texts table")] = "text",
    id_column: Annotated[str, typer.Option(help="with --stability: id column of the --texts table (the unit ids of the codings)")] = "id",
    code_map: Annotated[list[str] | None, typer.Option(help="with --stability: HUMAN=MODEL, a coded label that is a codebook path (repeatable)")] = None,
) -> None:
    """Inter-coder agreement per code and overall, with bootstrap intervals; JSON and a heatmap."""
    from eval.agree_files import AgreeOptions, analyse

    metrics = metric or ["percent", "cohen", "fleiss", "krippendorff", "gwet", "bp"]
    if stability and (stability < 2 or not texts):
        err.print("[bold red]error:[/] --stability needs K >= 2 runs and the units' texts (--texts)")
        raise typer.Exit(2)
    if not 0 < ci < 1:
        err.print("[bold red]error:[/] --ci must be between 0 and 1, e.g. 0.95")
        raise typer.Exit(2)
    opts = AgreeOptions(path=path, unit_column=unit_column, coder_column=coder_column, code_column=code_column,
                        wide=wide, where=tuple(where or ()), metrics=tuple(metrics), level=level, ci=ci, weights=weights,
                        weight_distance=weight_distance, categories=tuple(c.strip() for c in categories.split(",")) if categories else (),
                        n_boot=bootstrap, seed=seed, hierarchy=hierarchy, model=model, per_coder=per_coder,
                        overlap_threshold=overlap, repeated=repeated, out_dir=out)
    try:
        with err.status("Computing agreement..."):
            result = analyse(opts)
    except (LoupeError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _print(result, metrics, ci)
    console.print("Wrote " + ", ".join(str(f) for f in result.files), highlight=False)
    if stability:
        from scripts.stability_cli import stability as stability_report

        stability_report(texts or [], codebook=codebook, runs=stability, codings=path, unit_column=unit_column, coder_column=coder_column,
                         code_column=code_column, where=where, model=model, code_map=code_map, text_column=text_column,
                         id_column=id_column, bootstrap=bootstrap, seed=seed, out=out)
