"""Engines, sessions and migrations.

SQLite is the zero-set-up default: a file in the data directory, WAL journal, foreign keys on and
synchronous=FULL, so a decision that was acknowledged survives a crash or power loss. PostgreSQL
(`postgresql+psycopg://...`) is for teams. Either way the schema is brought to the newest Alembic
revision at start-up.

Writes go through `Database.write()`. On SQLite it also takes a process-wide lock and opens the
transaction with BEGIN IMMEDIATE: writers queue in Python instead of spinning in SQLite's busy
handler (whose sleeps are what make tail latency bad), and no transaction can deadlock upgrading a
read lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from service.storage import ids


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (BEGIN IMMEDIATE for writes).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA mmap_size=1073741824")  # reads through the OS page cache, without copies
    # Checkpoints run on a background thread (Database._checkpointer), not inside a writer's commit.
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


READ_POOL = 20  # pool_size; with max_overflow = pool_size, up to 40 connections


def make_engine(url: str, *, immediate: bool = False, pool_size: int = READ_POOL) -> Engine:
    """An engine for `url`; on SQLite, `immediate` makes every transaction BEGIN IMMEDIATE."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size, max_overflow=pool_size
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates every table on an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("service.storage").joinpath("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """One engine and its session factory. Opens nothing until used."""

    def __init__(self, url: str) -> None:
        self.url = url
        ids.install()  # deleted ids are never reused (SQLite)
        # A request may hold a read session (auth, lookups) and a write session at once, so reads and
        # writes have pools of their own, each as large as the server's thread pool (40): no request
        # can wait on a connection that another waiting request holds.
        self.engine = make_engine(url, pool_size=READ_POOL)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite writes are serialised by the lock below, so a small pool of IMMEDIATE connections does
        self._write_engine = make_engine(url, immediate=True, pool_size=2 if self.is_sqlite else READ_POOL)
        self._write_factory = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.is_sqlite:
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="loupe-checkpoint", daemon=True)
            self._checkpointer.start()

    def migrate(self) -> None:
        migrate(self.engine)

    def _checkpoint_loop(self, every: float = 5.0) -> None:
        """Copy the WAL back into the database file now and then (PASSIVE: never blocks a reader
        or a writer), so commits stay an append and an fsync of the WAL."""
        while not self._stop.wait(every):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # the file may be gone at shutdown; the next start checkpoints anyway
                pass

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._factory() as session:
            yield session

    def ping(self) -> None:
        """One round trip to the database on a read connection; raises when it does not answer."""
        with self.read() as session:
            session.execute(text("SELECT 1"))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        lock = self._write_lock if self.is_sqlite else None
        if lock:
            lock.acquire()
        try:
            with self._write_factory() as session:
                yield session
                session.commit()
        finally:
            if lock:
                lock.release()

    def dispose(self) -> None:
        self._stop.set()
        if self._checkpointer:
            self._checkpointer.join(timeout=5)
        self.engine.dispose()
        self._write_engine.dispose()
