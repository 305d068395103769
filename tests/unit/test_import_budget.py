"""A .qdpx import's budget (service.exchange.budget): an archive that inflates past
LOUPE_IMPORT_MAX_MB is refused before any member is read, an import past LOUPE_IMPORT_TIMEOUT_S
is refused between its stages, both as 413 naming the setting, and neither stores anything.
Codings find their segments by bisection, the same ones a scan finds."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from service.errors import TooLarge
from service.exchange import qdpx as exchange
from service.exchange.budget import ImportBudget
from service.exchange.qdpx import _overlap_index
from service.storage.db import Database
from service.storage.tables import Decision, DocumentRow, Project
from tests.adversarial_inputs import inflating_qdpx


def _counts(db: Database) -> list[int]:
    with db.read() as session:
        return [session.scalar(select(func.count()).select_from(t)) or 0 for t in (Project, DocumentRow, Decision)]


def test_an_inflating_archive_is_refused_before_it_is_read(db):
    data = inflating_qdpx(20)  # ~0.4 MB zipped, 20 MB of text
    started = time.perf_counter()
    with pytest.raises(TooLarge, match="LOUPE_IMPORT_MAX_MB") as err:
        with db.write() as session:
            exchange.import_project(session, data=data, owner_name="o", budget=ImportBudget(max_bytes=8 << 20))
    assert time.perf_counter() - started < 1.0 and err.value.status == 413
    assert _counts(db) == [0, 0, 0]


def test_an_import_past_its_time_stores_nothing(db):
    with pytest.raises(TooLarge, match="LOUPE_IMPORT_TIMEOUT_S"):
        with db.write() as session:
            exchange.import_project(session, data=inflating_qdpx(0.2), owner_name="o", budget=ImportBudget(seconds=1e-6))
    assert _counts(db) == [0, 0, 0]


def test_within_budget_the_import_is_whole(db):
    with db.write() as session:
        _, _, _, report = exchange.import_project(session, data=inflating_qdpx(0.2), owner_name="o")
    assert len(report["documents"]) == 4 and report["codings"] == 4
    assert _counts(db) == [1, 4, report["decisions"]] and report["decisions"] >= 4


def test_overlap_index_finds_what_a_scan_finds():
    import random

    rng = random.Random(1)
    for _ in range(200):  # sorted by start; windows overlap, ends not sorted
        starts = sorted(rng.randrange(0, 500) for _ in range(rng.randrange(0, 40)))
        segments = [SimpleNamespace(start=s, end=s + rng.randrange(1, 60)) for s in starts]
        find = _overlap_index(segments)
        for _ in range(20):
            a = rng.randrange(0, 560)
            b = a + rng.randrange(1, 80)
            assert find(a, b) == [s for s in segments if s.start < b and a < s.end]
