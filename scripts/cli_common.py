"""What the commands share: the --data-dir/--database-url options, error messages as exit code 2,
settings read with messages that name the option or variable at fault, `--version`, and opening
(and migrating) the database.

Exit codes (docs/coding.md lists them): 0 done; 1 an unexpected error (a bug: the traceback is
printed); 2 a usage or input error (a message names what to fix); 3 `loupe code` finished but
skipped files (each named with its reason); 130 interrupted (completed chunks are kept).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pydantic import ValidationError

    from service.settings import Settings

err = Console(stderr=True)

EXIT_SKIPPED = 3

DataDir = Annotated[Path | None, typer.Option(help="where the SQLite database lives (LOUPE_DATA_DIR)")]
DatabaseUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL instead of the SQLite file (LOUPE_DATABASE_URL)")]

OPTION_OF = {"embedder_model": "--model"}  # a setting whose command-line option is not --field-name


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def settings_problem(exc: ValidationError, overrides: dict[str, Any]) -> str:
    """A pydantic error on Settings as one line per field, naming the option (when it came from
    the command line) or the LOUPE_ variable (when it came from the environment), without
    pydantic's type codes and documentation links."""
    lines = []
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else ""
        value = e.get("input")
        if overrides.get(field) is not None:
            where = f"{OPTION_OF.get(field, '--' + field.replace('_', '-'))} {value}"
        else:
            where = f"LOUPE_{field.upper()}={value!r}" if isinstance(value, str) else f"LOUPE_{field.upper()}"
        message = str(e["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message[0].lower() + message[1:] if message else 'not accepted'}")
    return "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and these command-line values (None: not given); a value
    that does not validate exits 2 with a message naming the option or variable."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings(**overrides)
    except ValidationError as exc:
        fail(settings_problem(exc, overrides))


@contextmanager
def ctrl_c_kept() -> Iterator[Callable[[], None]]:
    """Ctrl-C raises KeyboardInterrupt at once, as Python's own handler does, and also leaves a mark
    that the `check()` this yields turns into KeyboardInterrupt, called between chunks.

    Python drops an exception raised while a finalizer (`__del__`, a collected generator's
    `finally`) runs, printing "Exception ignored in ...": a Ctrl-C that lands there would be lost
    and the run would go on to its end. With the mark it stops at the next chunk instead.
    Off the main thread (where Python allows no signal handler), or where SIGINT does not have
    Python's default handler (ignored, as for a background job of a script, or someone else's
    handler), nothing is installed and `check()` does nothing."""
    hit = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        hit.set()
        raise KeyboardInterrupt

    def check() -> None:
        if hit.is_set():
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield check
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


def print_version(value: bool) -> None:
    """The --version option's callback: print the installed version and exit."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"loupe {version('loupe')}")
        except PackageNotFoundError:
            typer.echo("loupe (not installed as a package)")
        raise typer.Exit()


def open_database(data_dir: Path | None, database_url: str | None) -> tuple[Settings, Any]:
    """(settings, migrated Database) for the options."""
    from service.storage.db import Database

    settings = load_settings(data_dir=data_dir, database_url=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database)
    db.migrate()
    return settings, db


def project_or_fail(session: Any, project_id: int) -> Any:
    """The project, or exit 2 naming the database that was read (its password hidden) and how to read another."""
    from service.errors import NotFound
    from service.projects.access import get_project

    try:
        return get_project(session, project_id)
    except NotFound:
        url = session.get_bind().engine.url.render_as_string(hide_password=True)
        fail(f"project {project_id} does not exist in {url}; "
             "pass --data-dir or --database-url (LOUPE_DATA_DIR, LOUPE_DATABASE_URL) to read another database")
