"""What the database-backed commands share: the --data-dir/--database-url options, error
messages as exit code 2, and opening (and migrating) the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option(help="where the SQLite database lives (LOUPE_DATA_DIR)")]
DatabaseUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL instead of the SQLite file (LOUPE_DATABASE_URL)")]


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def open_database(data_dir: Path | None, database_url: str | None):
    """(settings, migrated Database) for the options."""
    from service.settings import get_settings
    from service.storage.db import Database

    try:
        settings = get_settings(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:
        fail(str(exc))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database)
    db.migrate()
    return settings, db
