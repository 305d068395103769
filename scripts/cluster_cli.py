"""`loupe cluster`: cluster segments into candidate themes, from files or from a project."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console, JustifyMethod
from rich.table import Table

from models.base import LoupeError
from scripts.cli_common import load_settings, project_or_fail

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def cluster(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders to read (or use --project)")] = None,
    out: Annotated[Path, typer.Option(help="folder for clusters.json, candidates.json, map.json and map.png")] = Path("loupe-clusters"),
    project: Annotated[int | None, typer.Option(help="cluster a project's segments (its database; see --data-dir)")] = None,
    codebook: Annotated[str, typer.Option(help='for files: "seed" or a codebook file; coverage is measured against it')] = "seed",
    unit: Annotated[Literal["auto", "sentence", "turn", "paragraph", "window"], typer.Option(help="for files: segmentation unit")] = "auto",
    text_column: Annotated[str, typer.Option(help="for .csv/.jsonl files: the text column")] = "text",
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="for files: the proposal threshold; a code covers a segment at or above this or 0.9, whichever is higher")] = 0.5,
    method: Annotated[Literal["auto", "hdbscan", "kmeans"], typer.Option(help="auto: HDBSCAN up to 20,000 segments, else k-means")] = "auto",
    min_cluster_size: Annotated[int | None, typer.Option(min=2, help="HDBSCAN (default: max(5, n/200))")] = None,
    k: Annotated[int | None, typer.Option(min=2, help="k-means clusters (default: sqrt(n/2))")] = None,
    coverage_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="clusters covered less than this are candidates")] = 0.5,
    projection: Annotated[Literal["pca", "umap"], typer.Option(help="the map (umap needs umap-learn)")] = "pca",
    seed: Annotated[int, typer.Option(help="random seed (the result is the same for the same seed)")] = 0,
    data_dir: Annotated[Path | None, typer.Option(help="with --project: where the database lives (LOUPE_DATA_DIR)")] = None,
    database_url: Annotated[str | None, typer.Option(help="with --project: SQLAlchemy URL (LOUPE_DATABASE_URL)")] = None,
) -> None:
    """Cluster segments and list the clusters no code covers as candidate codes."""
    from models.discovery.clustering import ClusterConfig
    from models.discovery.pipeline import DiscoveryConfig, discover, write_outputs
    from service.discovery.clusters import name_candidates
    from service.discovery.files import discover_inputs
    if (project is None) == (not paths):
        _fail("give files or folders to cluster, or --project ID (not both)")
    config = DiscoveryConfig(
        clustering=ClusterConfig(method=method, min_cluster_size=min_cluster_size, k=k, seed=seed),
        coverage_threshold=coverage_threshold, projection=projection,
    )
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    try:
        with console.status("Reading, embedding and clustering..."):
            if project is not None:
                ids, data, title = _project_data(settings, project)
            else:
                data, title = discover_inputs(settings, paths or [], codebook=codebook, unit=unit, text_column=text_column, threshold=threshold)
                ids = data.ids
            found = discover(data.vectors, data.texts, data.documents, data.speakers, data.carried, config, scores=data.scores, codes=data.codes)
        with console.status("Naming candidate codes with the LLM...") if settings.llm_backend != "none" else nullcontext():
            naming = name_candidates(lambda: _llm_coder(settings, data.codebook), found, data.texts)
        written = write_outputs(found, out, ids, data.texts, title=title, naming=naming)
    except (LoupeError, ValueError) as exc:
        _fail(str(exc))
    _print(found, data.texts)
    console.print(f"Wrote {', '.join(str(p) for p in written.values())}", highlight=False)


def _llm_coder(settings, codebook):
    """An LLMCoder when LOUPE_LLM_BACKEND is set, else None."""
    if settings.llm_backend == "none":
        return None
    from models.llm.base import ResponseCache
    from models.llm.coder import LLMCoder
    from service.pipeline import build_llm

    return LLMCoder(build_llm(settings), codebook, cache=ResponseCache(settings.llm_cache_path))


def _project_data(settings, project_id: int):
    from service.discovery.clusters import project_segments
    from service.pipeline import Pipeline
    from service.storage.db import Database

    db = Database(settings.database)
    try:
        db.migrate()
        with db.read() as session:
            project = project_or_fail(session, project_id)
        data = project_segments(db, Pipeline(settings), project)
    finally:
        db.dispose()
    return data.ids, data, project.name


def _print(found, texts: list[str]) -> None:
    c = found.clustering
    console.print(f"{c.n_clusters} clusters ({c.method}), {int((c.labels < 0).sum())} of {len(texts)} segments as noise; "
                  f"{len(found.candidates)} candidate codes.", highlight=False)
    table = Table(title="Clusters (candidates marked *)", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("#", "right"), ("size", "right"), ("coverage", "right"), ("keywords", "left"), ("top codes", "left"))
    for col, just in columns:
        table.add_column(col, justify=just)
    for cl in found.clusters[:30]:
        table.add_row(f"{cl.label}{'*' if cl.candidate else ''}", str(cl.size), f"{cl.coverage:.0%}",
                      ", ".join(w for w, _ in cl.keywords[:5]), ", ".join(f"{code} ({n})" for code, n in cl.codes[:2]))
    console.print(table)
    for cl in found.candidates[:10]:
        console.print(f"[bold]* {cl.label}: {cl.name}[/]  {cl.definition}", highlight=False)

