"""Storage: the migrations build exactly the tables the code declares, on SQLite and PostgreSQL,
and SQLite runs with the durability the ledger needs."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from service.storage.db import Database, sqlite_url
from service.storage.tables import Base
from tests.api.conftest import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "loupe.db"))
        yield db
        db.dispose()
        return
    url, drop = postgres_database()
    db = Database(url)
    yield db
    db.dispose()
    drop()


def test_migrations_match_the_tables(database):
    database.migrate()
    database.migrate()  # idempotent: a second start changes nothing
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"tables.py and the migrations disagree; write a migration: {diff}"
    names = set(inspect(database.engine).get_table_names())
    assert {"projects", "coders", "codebooks", "documents", "segments", "suggestions", "decisions", "jobs", "alembic_version"} <= names


def test_sqlite_is_durable(tmp_path):
    db = Database(sqlite_url(tmp_path / "loupe.db"))
    db.migrate()
    with db.write() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()


def test_foreign_keys_are_enforced(database):
    from sqlalchemy.exc import IntegrityError

    from service.storage.tables import Coder

    database.migrate()
    with pytest.raises(IntegrityError):
        with database.write() as s:
            s.add(Coder(project_id=12345, name="x", role="coder", token_hash="0" * 64))
