"""Fixtures shared by the unit tests that need storage or the REFI-QDA schemas."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database in the test's folder, disposed afterwards."""
    from service.storage.db import Database, sqlite_url

    database = Database(sqlite_url(tmp_path / "loupe.db"))
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def schemas():
    """The official REFI-QDA schemas in ../shared (the test is skipped, with a message, without them)."""
    return shared_path("refi-qda")
