"""`loupe import` and `loupe export`: REFI-QDA projects (.qdpx) and codebooks (.qdc), straight
against the Loupe database (the same one `loupe serve` uses), for moving work between Loupe and
NVivo, ATLAS.ti, MAXQDA or QualCoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.base import LoupeError
from scripts.cli_common import DatabaseUrl, DataDir, err, fail, open_database, project_or_fail

console = Console()


def import_(
    path: Annotated[Path, typer.Argument(help="a .qdpx project (becomes a new project) or a .qdc codebook (needs --project)")],
    project: Annotated[int | None, typer.Option(help="for a .qdc: the project that gets it as its next codebook version")] = None,
    owner: Annotated[str, typer.Option(help="for a .qdpx: your coder name in the new project")] = "owner",
    name: Annotated[str | None, typer.Option(help="for a .qdpx: the new project's name (default: the file's)")] = None,
    report: Annotated[Path | None, typer.Option(help="also write the import report (JSON) here")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a REFI-QDA project or codebook. Nothing is stored unless the whole file can be used."""
    from models.text.segment import SegmentationConfig
    from service.exchange import qdpx as exchange
    from service.exchange.budget import ImportBudget
    from service.pipeline import build_embedder

    suffix = path.suffix.lower()
    if suffix not in (".qdpx", ".qdc"):
        fail(f"{path}: expected a .qdpx project or a .qdc codebook")
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")
    settings, db = open_database(data_dir, database_url)
    try:
        if suffix == ".qdc":
            if project is None:
                fail("a .qdc codebook goes into an existing project: add --project ID")
            with db.write() as session:
                row, info = exchange.import_codebook(session, project=project_or_fail(session, project), coder=None, data=data,
                                                     schema_dir=settings.refi_schema_dir)
                console.print(f"Codebook version {row.version} of project {project}: {info['codes']} codes.")
        else:
            embedder = build_embedder(settings, use_cache=False)
            with db.write() as session:
                proj, _, token, info = exchange.import_project(
                    session, data=data, owner_name=owner, name=name, schema_dir=settings.refi_schema_dir,
                    segmentation=SegmentationConfig(), count_tokens=embedder.count_tokens,
                    budget=ImportBudget(max_bytes=settings.import_max_bytes, seconds=settings.import_timeout_s),
                )
                info["coders"][0]["token"] = token
                _print_import(proj.id, info)
    except LoupeError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    if report is not None and suffix == ".qdpx":
        report.write_text(json.dumps(info, indent=2, default=str))
    _print_validation(info["validation"])


def _print_import(project_id: int, info: dict) -> None:
    console.print(f"Project {project_id} ({info['name']}): {len(info['documents'])} documents, {info['codes']} codes, "
                  f"{info['codings']} codings as {info['decisions']} decisions.", highlight=False)
    table = Table(title="Coders (tokens are shown once; keep them)", title_justify="left")
    for col in ("coder", "role", "token"):
        table.add_column(col)
    for c in info["coders"]:
        table.add_row(c["name"], c["role"], c["token"] or "")
    console.print(table)
    for u in info["unsupported"]:
        console.print(f"[yellow]not imported:[/] {u['type']} {u['name']!r} ({u['codings']} codings): Loupe holds text sources only", highlight=False)
    for w in info["warnings"]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


def _print_validation(v: dict) -> None:
    if v["validated"]:
        console.print(f"Validated against {v['schema']}.", highlight=False)
    else:
        err.print(f"[yellow]not validated:[/] {v['note']}", highlight=False)


def export(
    project: Annotated[int, typer.Option(help="the project to export")],
    out: Annotated[Path, typer.Option(help="FILE.qdpx (the project) or FILE.qdc (its codebook)")],
    version: Annotated[int | None, typer.Option(help="for a .qdc: the codebook version (default: the current one)")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export a project as REFI-QDA .qdpx (sources, codebook, each coder's codings; accepted model
    suggestions carry their score, model and codebook version in a linked note), or its codebook as .qdc."""
    from service.exchange import qdpx as exchange

    suffix = out.suffix.lower()
    if suffix not in (".qdpx", ".qdc"):
        fail(f"{out}: name the output FILE.qdpx (project) or FILE.qdc (codebook)")
    settings, db = open_database(data_dir, database_url)
    try:
        with db.read() as session:
            proj = project_or_fail(session, project)
            if suffix == ".qdc":
                data, info = exchange.export_codebook(session, project=proj, version=version, schema_dir=settings.refi_schema_dir)
            else:
                data, info = exchange.export_project(session, project=proj, schema_dir=settings.refi_schema_dir)
    except LoupeError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    what = f"codebook version {info['version']}, {info['codes']} codes" if suffix == ".qdc" else f"{info['sources']} sources, {info['codes']} codes, {info['codings']} codings, {info['notes']} notes"
    console.print(f"Wrote {out} ({what}).", highlight=False)
    _print_validation(info["validation"])
