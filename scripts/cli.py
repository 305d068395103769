"""The `loupe` command line. Thin: parse options, call a service function, print the result."""

from __future__ import annotations

from contextlib import nullcontext
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from models.base import LoupeError
from scripts.agree_cli import agree
from scripts.analysis_cli import matrix, report
from scripts.cli_common import EXIT_SKIPPED, ctrl_c_kept, load_settings, print_version
from scripts.cluster_cli import cluster
from scripts.exchange_cli import export, import_
from scripts.stability_cli import stability
from scripts.tune_cli import tune

app = typer.Typer(
    help="Loupe: LLM-assisted thematic coding of qualitative data, local-first.\n\n"
         "Exit codes: 0 done; 2 a usage or input error (the message says what to fix); 3 `code` finished but skipped files; 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out_console = Console()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True, help="print the version and exit")] = False,
) -> None:
    """The options before any command (--version)."""


class SpeedColumn(ProgressColumn):
    """Segments per second, from rich's moving estimate."""

    def render(self, task) -> Text:
        if task.fields.get("scan"):
            return Text("")
        speed = task.finished_speed or task.speed
        if not speed and task.elapsed:  # short runs end before rich has a moving estimate
            speed = (task.completed - task.fields.get("resumed", 0)) / task.elapsed
        return Text(f"{speed:,.1f} seg/s" if speed else "-- seg/s", style="progress.data.speed")


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def sample_corpus_path() -> Path:
    return Path(str(resources.files("models.data").joinpath("sample_corpus")))


def _print_result(result, top: int = 25) -> None:
    table = Table(title=f"Codes proposed ({result.suggestions} suggestions)", title_justify="left")
    table.add_column("code", no_wrap=True)
    table.add_column("segments", justify="right")
    table.add_column("documents", justify="right")
    table.add_column("mean score", justify="right")
    for code, c in list(result.code_counts.items())[:top]:
        table.add_row(code, str(c["segments"]), str(c["documents"]), f"{c['mean_score']:.2f}")
    out_console.print(table)
    line = (
        f"{result.documents} documents, {result.segments} segments in {result.seconds:.1f} s "
        f"({result.segments_per_second:.1f} seg/s); encoded {result.encoded}, from cache {result.cache_hits}"
    )
    if result.resumed_from:
        line += f"; resumed after {result.resumed_from} segments"
    out_console.print(line, highlight=False)
    for s in result.skipped:
        console.print(f"[yellow]skipped[/] {s['path']}: {s['reason']}", highlight=False)
    if result.output_format == "parquet":
        files = "documents/, segments/, suggestions/, embeddings/ (one file per chunk), summary.json, index/"
    else:
        files = "segments.jsonl, suggestions.jsonl, suggestions.csv, summary.json, index/"
    out_console.print(f"Outputs in [bold]{result.out_dir}[/]: {files}")


def _run_code(paths: list[Path], *, codebook: str, out: Path, quiet: bool, settings_overrides: dict, batch: dict,
              engine: dict | None = None, use_cache: bool = True) -> None:
    from models.codebook import resolve_codebook
    from models.text.segment import SegmentationConfig
    from service.batch.inputs import ReadOptions
    from service.batch.run import BatchOptions, run_batch
    from service.pipeline import build_classifier, build_embedder

    settings = load_settings(**settings_overrides)
    missing = next((p for p in paths if not Path(p).exists()), None)
    if missing is not None:  # said before the model loads (seconds), not after
        fail(f"{missing}: no such file or folder")
    try:
        cb = resolve_codebook(codebook, settings.codebook_limits)
        opts = BatchOptions(
            inputs=paths,
            out_dir=out,
            read=ReadOptions(**batch.pop("read")),
            segmentation=SegmentationConfig(**batch.pop("segmentation"), interviewer_labels=tuple(settings.skip_speakers)),
            chunk_size=settings.chunk_size,
            skip_speakers=tuple(settings.skip_speakers),
            ann_threshold=settings.ann_threshold,
            **batch,
        )
        with console.status("Loading the embedding model...", spinner="dots") if not quiet else nullcontext():
            embedder = build_embedder(settings, use_cache=use_cache and not engine)
            classifier = build_classifier(settings, cb, embedder)
        progress = Progress(
            TextColumn("[bold]{task.fields[label]}"), BarColumn(), MofNCompleteColumn(), SpeedColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=quiet,
        )
        task: list[TaskID] = []
        scanning: list[TaskID] = []

        def on_scan(documents: int, segments: int) -> None:
            interrupted()
            if not scanning:
                scanning.append(progress.add_task("scan", total=None, label="Reading", scan=True))
            progress.update(scanning[0], completed=documents,
                            label=f"Reading: {segments:,} segments in {documents:,} documents")

        def on_progress(done: int, total: int) -> None:  # after each chunk is written
            interrupted()
            if scanning:
                progress.remove_task(scanning.pop())
            if not task:
                task.append(progress.add_task("coding", total=total, completed=done, resumed=done, label="Coding"))
            else:
                progress.update(task[0], completed=done)

        with progress, ctrl_c_kept() as interrupted:
            if engine:
                from service.batch.ray import run_batch_ray

                result = run_batch_ray(opts, codebook=cb, embedder=embedder, settings=settings, progress=on_progress,
                                       scan_progress=on_scan, **engine)
            else:
                result = run_batch(opts, codebook=cb, embedder=embedder, classifier=classifier, progress=on_progress,
                                   scan_progress=on_scan)
    except KeyboardInterrupt:
        console.print("\n[yellow]Interrupted.[/] Completed chunks are saved; run the same command again to resume.")
        raise typer.Exit(130) from None
    except LoupeError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    _print_result(result)
    if result.skipped:
        console.print(f"[yellow]{len(result.skipped)} of {result.documents + len(result.skipped)} files were skipped[/] (exit code {EXIT_SKIPPED}); "
                      "fix or remove them and run again to code them", highlight=False)
        raise typer.Exit(EXIT_SKIPPED)


Paths = Annotated[list[Path], typer.Argument(help="files or folders (.txt .md .docx .vtt .srt .csv .jsonl)")]


@app.command()
def code(
    paths: Paths,
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (re-running resumes)")],
    codebook: Annotated[str, typer.Option(help='"seed" or a codebook .yaml/.json file')] = "seed",
    unit: Annotated[Literal["auto", "sentence", "turn", "paragraph", "window"], typer.Option(help="segmentation unit")] = "auto",
    window: Annotated[int, typer.Option(help="sentences per window (--unit window)")] = 3,
    stride: Annotated[int | None, typer.Option(help="sentences between windows (default: window)")] = None,
    max_tokens: Annotated[int, typer.Option(help="token budget per segment")] = 200,
    text_column: Annotated[str, typer.Option(help="text column of .csv/.jsonl input")] = "text",
    id_column: Annotated[str, typer.Option(help="id column of .csv/.jsonl input")] = "id",
    speaker_column: Annotated[str | None, typer.Option(help="speaker column of .csv/.jsonl input (who wrote each row)")] = None,
    encoding: Annotated[str | None, typer.Option(help="text encoding of the inputs (default: UTF-8)")] = None,
    on_error: Annotated[Literal["skip", "fail"], typer.Option(help="on a file that cannot be read: skip it (exit code 3 at the end) or stop")] = "skip",
    threshold: Annotated[float | None, typer.Option(help="minimum score for a proposal")] = None,
    model: Annotated[str | None, typer.Option(help="embedding model: 'default' or a local path")] = None,
    device: Annotated[Literal["auto", "cpu", "cuda"] | None, typer.Option(help="where the encoder runs (default: auto; LOUPE_DEVICE)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="encoder batch size")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for the encoder")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="segments per checkpoint / Parquet file (default 1024)")] = None,
    precision: Annotated[Literal["auto", "fast", "fp32", "bf16", "fp16"] | None, typer.Option(help="encoder precision (fast: bf16 where it matches fp32 and is faster here, measured once)")] = None,
    limit: Annotated[int | None, typer.Option(help="code only the first N segments")] = None,
    output_format: Annotated[Literal["jsonl", "parquet"], typer.Option("--format", help="jsonl (with CSV) or parquet (one file per chunk)")] = "jsonl",
    engine: Annotated[Literal["local", "ray"], typer.Option(help="local, or ray (Ray Data; writes Parquet)")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address, e.g. auto or head:6379 (--engine ray; default: start a local one)")] = None,
    workers: Annotated[int, typer.Option(help="model actors (--engine ray)")] = 2,
    cpus_per_worker: Annotated[float, typer.Option(help="CPUs per model actor (--engine ray)")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per model actor (--engine ray; 1 = one actor per GPU)")] = 0,
    cache: Annotated[bool, typer.Option(help="use the persistent embedding cache (local engine)")] = True,
    overwrite: Annotated[bool, typer.Option(help="replace a different run in --out")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Segment, embed, index and propose codes for every document in PATHS."""
    if engine == "ray":
        output_format = "parquet"  # the Ray engine always writes one Parquet file per chunk
    if output_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            fail('--format parquet needs pyarrow: pip install pyarrow (or "loupe[ray]")')
    _run_code(
        paths,
        codebook=codebook,
        out=out,
        quiet=quiet,
        settings_overrides={"threshold": threshold, "embedder_model": model, "device": device,
                            "batch_size": batch_size, "threads": threads, "precision": precision,
                            "chunk_size": chunk_size},
        batch={
            "read": {"text_column": text_column, "id_column": id_column, "speaker_column": speaker_column, "encoding": encoding,
                     "on_error": on_error},
            "segmentation": {"unit": unit, "window": window, "stride": stride, "max_tokens": max_tokens},
            "limit": limit,
            "overwrite": overwrite,
            "output_format": output_format,
        },
        engine={"address": address, "workers": workers, "cpus_per_worker": cpus_per_worker,
                "gpus_per_worker": gpus_per_worker} if engine == "ray" else None,
        use_cache=cache,
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("loupe-demo"),
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Code the shipped sample interviews against the seed codebook, then show what was scored: coverage and a sample spread over the corpus, misses included."""
    _run_code(
        [sample_corpus_path()],
        codebook="seed",
        out=out,
        quiet=quiet,
        settings_overrides={},
        batch={
            "read": {"text_column": "response", "id_column": "id", "encoding": None, "on_error": "skip"},
            "segmentation": {},
            "limit": None,
            "overwrite": False,
        },
    )
    from scripts.demo_report import print_demo_report
    from service.settings import get_settings

    print_demo_report(out, out_console, threshold=get_settings().threshold)


app.command()(agree)
app.command(name="import")(import_)
app.command()(export)
app.command()(cluster)
app.command()(report)
app.command()(matrix)
app.command()(tune)
app.command()(stability)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1; LOUPE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000; LOUPE_PORT)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where the SQLite database and caches live (LOUPE_DATA_DIR)")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (LOUPE_DATABASE_URL)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start the review API (uvicorn). The model loads once at start-up; GET /ready says when it is loaded."""
    import uvicorn

    from service.app import create_app

    settings = load_settings(host=host, port=port, data_dir=data_dir, database_url=database_url)
    console.print(f"Loupe API on http://{settings.host}:{settings.port}  (docs: /docs; database: {settings.database})", highlight=False)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level, timeout_graceful_shutdown=10)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
