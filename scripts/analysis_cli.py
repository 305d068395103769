"""`loupe report` and `loupe matrix`: the analysis of a project, from its database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from models.base import LoupeError
from scripts.cli_common import DatabaseUrl, DataDir, fail, open_database, project_or_fail

console = Console()
_fail = fail


def _session(data_dir: Path | None, database_url: str | None):
    return open_database(data_dir, database_url)[1]


def report(
    project: Annotated[int, typer.Option(help="the project")],
    out: Annotated[Path, typer.Option(help="the HTML file to write")] = Path("loupe-report.html"),
    n_boot: Annotated[int, typer.Option(min=0, help="bootstrap resamples for the agreement intervals")] = 200,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a self-contained HTML report: codebook with counts, themes, matrix tables, agreement, memos, method record."""
    from service.analysis.report import build_report

    db = _session(data_dir, database_url)
    try:
        with db.read() as session:
            html = build_report(session, project=project_or_fail(session, project), n_boot=n_boot)
    except LoupeError as exc:
        _fail(str(exc))
    finally:
        db.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    console.print(f"Wrote {out} ({len(html) // 1024} KB).", highlight=False)


def matrix(
    project: Annotated[int, typer.Option(help="the project")],
    rows: Annotated[str, typer.Option(help='"top", "all", codes separated by commas, or an attribute like speaker:sector')] = "top",
    cols: Annotated[str, typer.Option(help="the same, for the columns")] = "speaker:sector",
    measure: Annotated[Literal["segments", "documents", "agreement"], typer.Option(help="what a cell counts")] = "segments",
    out: Annotated[Path, typer.Option(help="folder for matrix.json, matrix.csv and matrix.png")] = Path("loupe-matrix"),
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A matrix coding query: codes or attribute values against each other, with the passages behind each cell."""
    from eval.analysis import matrix_csv, save_heatmap
    from service.analysis.matrix import matrix_query

    def spec(text: str) -> dict:
        if text.startswith(("speaker:", "document:")):
            return {"attribute": text}
        return {"codes": text if text in ("top", "all") else [c.strip() for c in text.split(",") if c.strip()]}

    db = _session(data_dir, database_url)
    try:
        with db.read() as session:
            result = matrix_query(session, project=project_or_fail(session, project), rows=spec(rows), cols=spec(cols), measure=measure)
    except LoupeError as exc:
        _fail(str(exc))
    finally:
        db.dispose()
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "matrix.csv").write_text(matrix_csv(result), encoding="utf-8", newline="")
    save_heatmap(result, out / "matrix.png")
    for label, row in zip(result["rows"], result["counts"], strict=False):
        console.print(f"{label:30} " + "  ".join(f"{c:>6}" for c in row), highlight=False)
    console.print(f"Wrote {out}/matrix.json, matrix.csv, matrix.png", highlight=False)
