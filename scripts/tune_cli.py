"""`loupe tune`: fine-tune the sentence encoder on a project's decisions (service.jobs.tuning)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.base import LoupeError
from scripts.cli_common import DatabaseUrl, DataDir, fail, open_database

console = Console()


def tune(
    project: Annotated[int, typer.Option(help="the project whose decisions teach the encoder")],
    out: Annotated[Path, typer.Option(help="folder for the tuned model (a sentence-transformers folder) and loupe-tune.json")],
    holdout: Annotated[float, typer.Option(min=0.05, max=0.5, help="share of decided segments held out to compare base and tuned")] = 0.2,
    steps: Annotated[int, typer.Option(min=1, max=100_000, help="most optimiser steps of 32 segments (at least one pass over the data)")] = 40,
    steps_per_label: Annotated[int, typer.Option(min=1, max=10_000, help="optimiser steps per label (code, or no code), up to --steps")] = 10,
    epochs: Annotated[int | None, typer.Option(min=1, max=50, help="passes over the data instead of --steps")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    force: Annotated[bool, typer.Option(help="save the tuned model even when it does not beat the base one")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Fine-tune the encoder on the project's decisions; save it only if it beats the base encoder on held-out decisions.

    Use the saved folder with LOUPE_EMBEDDER_MODEL=OUT (then re-run suggestions). Needs decisions on
    at least 100 segments. About a minute on 2 CPU cores for a few hundred decided segments.
    """
    from models.classifiers.finetune import FineTuneConfig
    from models.embedders.sentence_transformers import (
        DEFAULT_MODEL,
        default_model_path,
        resolve_device,
    )
    from service.jobs.tuning import REPORT, tune_project

    settings, db = open_database(data_dir, database_url)
    try:  # the configured embedder's weights, loaded by the tuning itself (not twice)
        model = str(default_model_path()) if settings.embedder_model == DEFAULT_MODEL else settings.embedder_model
        report = tune_project(db, project_id=project, model=model, out=out, holdout=holdout, force=force, device=resolve_device(settings.device),
                              config=FineTuneConfig(steps=steps, steps_per_label=steps_per_label, epochs=epochs, seed=seed), say=lambda m: console.print(m, highlight=False))
    except LoupeError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    table = Table(title=f"Held-out decisions ({report['held_out']} segments)", title_justify="left")
    for col in ("encoder", "log-loss (decides)", "accuracy", "macro F1"):
        table.add_column(col)
    for name in ("base", "tuned"):
        table.add_row(name, f"{report['held_out_log_loss'][name]:.3f}", f"{report['held_out_accuracy'][name]:.3f}",
                      f"{report['held_out_macro_f1'][name]:.3f}")
    console.print(table)
    if report["saved"]:
        console.print(f"Saved the tuned encoder to {out}. Use it with LOUPE_EMBEDDER_MODEL={out}", highlight=False)
    else:
        console.print(f"The tuned encoder is not better on held-out decisions: nothing saved (report in {out / REPORT}).", highlight=False)
