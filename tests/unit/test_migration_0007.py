"""Migration 0007 on a database that already holds a ledger (an accept and the undo that refers to
it): every decision survives with its ids, and the segment and suggestion ids are no longer
foreign keys, on SQLite (where the table is rebuilt) and PostgreSQL."""

from __future__ import annotations

from importlib import resources

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, inspect, select

from service.storage.db import make_engine, sqlite_url
from service.storage.tables import CodebookVersion, Coder, Decision, DocumentRow, Project, SegmentRow, Suggestion
from tests.api.conftest import postgres_database


def _upgrade(engine, to: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("service.storage").joinpath("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, to)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_0007_keeps_the_ledger_and_drops_the_foreign_keys(backend, tmp_path):
    url, drop = postgres_database() if backend == "postgresql" else (sqlite_url(tmp_path / "old.db"), lambda: None)
    engine = make_engine(url)
    try:
        _upgrade(engine, "0006")
        with engine.begin() as c:
            c.execute(insert(Project.__table__).values(id=1, name="p", description="", blind=False, hide_suggestions=False,
                                                       queue_mode="information", retrain_every=50, threshold=0.5))
            c.execute(insert(Coder.__table__).values(id=1, project_id=1, name="o", role="owner", token_hash="h", active=True))
            c.execute(insert(CodebookVersion.__table__).values(id=1, project_id=1, version=1, name="c", content={}, fingerprint="f"))
            c.execute(insert(DocumentRow.__table__).values(id=1, project_id=1, name="d", format="txt", text="abc", sha256="s",
                                                           is_transcript=False, attributes={}))
            c.execute(insert(SegmentRow.__table__).values(id=1, project_id=1, document_id=1, ordinal=0, start=0, end=3, text="abc",
                                                          sentences=[], role="data"))
            c.execute(insert(Suggestion.__table__).values(id=1, project_id=1, segment_id=1, document_id=1, codebook_id=1, code="x",
                                                          score=0.9, priority=0.0, model="m", evidence={}))
            c.execute(insert(Decision.__table__).values(id=1, project_id=1, segment_id=1, coder_id=1, verdict="accept", code="x",
                                                        effects={"x": True}, codebook_id=1, suggestion_id=1, client_key="k1"))
            c.execute(insert(Decision.__table__).values(id=2, project_id=1, segment_id=1, coder_id=1, verdict="undo", code="x",
                                                        effects={"x": False}, codebook_id=1, undoes_id=1))
        _upgrade(engine, "head")
        with engine.connect() as c:
            rows = c.execute(select(Decision.id, Decision.segment_id, Decision.suggestion_id, Decision.undoes_id, Decision.verdict,
                                    Decision.client_key).order_by(Decision.id)).all()
        assert [tuple(r) for r in rows] == [(1, 1, 1, None, "accept", "k1"), (2, 1, None, 1, "undo", None)]
        insp = inspect(engine)
        refs = {fk["referred_table"] for fk in insp.get_foreign_keys("decisions")}
        assert refs == {"projects", "coders", "codebooks", "decisions"}  # no segments, no suggestions
        assert {"ix_decisions_coder_segment", "ix_decisions_project"} <= {i["name"] for i in insp.get_indexes("decisions")}
        assert {"page", "start_s", "end_s"} <= {col["name"] for col in insp.get_columns("segments")}
    finally:
        engine.dispose()
        drop()
