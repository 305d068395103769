"""A .qdpx round trip keeps identities (issue 24, item 6): a project exported, imported and
exported again gives the same project.qde, and what a hand-made file said (coding, selection,
user and note GUIDs, note names, creation times, the case of its sources folder) is in it."""

from __future__ import annotations

import difflib
import io
import zipfile

from lxml import etree
from sqlalchemy import select

from models.base import Document
from service.analysis.memos import add_memo
from service.documents.store import store_documents
from service.exchange import qdpx as exchange
from service.projects.access import Caller
from service.projects.manage import add_coder, create_project
from service.review.ledger import DecisionInput, record
from service.storage.db import Database
from service.storage.tables import SegmentRow, Suggestion
from tests import refi_handmade as hm

NS = "{urn:QDA-XML:project:1.0}"


def _qde(data: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read("project.qde").decode()


def _round_trip(db: Database, first: bytes, schemas) -> bytes:
    with db.write() as session:
        again, *_ = exchange.import_project(session, data=first, owner_name="Lead", schema_dir=schemas)
        second, _ = exchange.export_project(session, project=again, schema_dir=schemas)
    return second


def _assert_same_qde(first: bytes, second: bytes) -> None:
    a, b = _qde(first), _qde(second)
    diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "first export", "second export", lineterm=""))
    # project.qde carries no export timestamp (the zip's member dates are fixed too), so nothing may differ
    assert a == b, diff
    assert first == second


def _loupe_work(session, project, owner) -> None:
    """Work done in Loupe on top of an import: an accepted suggestion (with its provenance note),
    a coder's own coding, and memos on the project and a document."""
    lead = Caller(owner.id, project.id, owner.name, "owner")
    segment = session.scalars(select(SegmentRow).where(SegmentRow.project_id == project.id).order_by(SegmentRow.id)).first()
    book = exchange.current_codebook(session, project)
    sug = Suggestion(project_id=project.id, segment_id=segment.id, document_id=segment.document_id, codebook_id=book.id,
                     code="trust", score=0.8731, model="minilm-zero-shot", evidence={})
    session.add(sug)
    session.flush()
    record(session, project=project, coder=lead, data=DecisionInput(verdict="accept", suggestion_id=sug.id, memo="clear case"))
    record(session, project=project, coder=lead, data=DecisionInput(verdict="add", segment_id=segment.id, code="power/funding-leverage"))
    add_memo(session, project=project, coder=lead, target_kind="project", target="", text="Phase 2 done.", replaces=None)
    add_memo(session, project=project, coder=lead, target_kind="document", target=str(segment.document_id), text="Ran short.", replaces=None)


def test_hand_made_project_round_trips_with_its_identities(db, schemas):
    source = hm.qdpx(folder="Sources")
    with db.write() as session:
        project, owner, _, _ = exchange.import_project(session, data=source, owner_name="Lead", schema_dir=schemas)
        _loupe_work(session, project, owner)
        first, _ = exchange.export_project(session, project=project, schema_dir=schemas)
    _assert_same_qde(first, _round_trip(db, first, schemas))

    members = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert f"Sources/{hm.INTERVIEW.lower()}.txt" in members and not any(m.startswith("sources/") for m in members)
    root = etree.fromstring(_qde(first).encode())
    assert root.get("creationDateTime") == "2024-03-01T10:00:00+00:00"
    assert [v.get("guid") for v in root.iter(f"{NS}Variable")] == [hm.SECTOR.lower()]
    users = {u.get("name"): u.get("guid") for u in root.iter(f"{NS}User")}
    assert users["Alice"] == hm.ALICE.lower() and users["Bob"] == hm.BOB.lower()
    selections = {s.get("guid") for s in root.iter(f"{NS}PlainTextSelection")}
    assert {f"5e100000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3)} <= selections
    codings = {c.get("guid"): c for c in root.iter(f"{NS}Coding")}
    assert {f"c0d10000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3, 4)} <= set(codings)
    alice = codings["c0d10000-0000-4000-8000-000000000001"]
    assert alice.get("creationDateTime") == "2024-03-02T09:00:00+00:00" and alice.get("creatingUser") == hm.ALICE.lower()
    assert codings["c0d10000-0000-4000-8000-000000000002"].get("creationDateTime") is None  # the file gave none
    assert [n.get("targetGUID") for n in alice.iter(f"{NS}NoteRef")] == [hm.NOTE.lower()]
    notes = {n.get("guid"): n for n in root.iter(f"{NS}Note")}
    assert notes[hm.NOTE.lower()].get("name") == "Why personal" and notes[hm.NOTE.lower()].get("creatingUser") == hm.ALICE.lower()
    interview = next(s for s in root.iter(f"{NS}TextSource") if s.get("name") == "Interview 1")
    assert interview.get("creatingUser") == hm.ALICE.lower() and interview.get("creationDateTime") is None
    # Loupe's provenance still travels as note text
    assert any("Score 0.873" in "".join(n.itertext()) and n.get("name") == "Loupe: trust" for n in notes.values())


def test_project_made_in_loupe_round_trips_unchanged(db, schemas):
    with db.write() as session:
        project, owner, _ = create_project(session, name="Made here", owner_name="Lead", description="Native.")
        ana, _ = add_coder(session, project=project, name="Ana", role="coder")
        lead = Caller(owner.id, project.id, owner.name, "owner")
        docs = [Document("a.txt", "We trust the council. The money came with strings.\n\nStaff kept promises.", "a.txt", "txt"),
                Document("b.txt", "Funding shapes what we can say.", "b.txt", "txt", metadata={"sector": "public"})]
        store_documents(session, project=project, documents=docs, coder=lead, data=b"x")
        codes = [c.path for c in exchange.as_codebook(exchange.current_codebook(session, project)) if c.codable and "/" in c.path]
        segments = list(session.scalars(select(SegmentRow).where(SegmentRow.project_id == project.id).order_by(SegmentRow.id)))
        for i, seg in enumerate(segments):
            record(session, project=project, coder=lead, data=DecisionInput(verdict="add", segment_id=seg.id, code=codes[i % len(codes)], memo=f"why {i}"))
            record(session, project=project, coder=Caller(ana.id, project.id, ana.name, "coder"),
                   data=DecisionInput(verdict="add", segment_id=seg.id, code=codes[(i + 1) % len(codes)], start=seg.start, end=seg.start + 5))
        for code in ("trust/built-over-time", "trust/personal"):  # ids that re-import as other slugs, sorting the other way
            record(session, project=project, coder=lead, data=DecisionInput(verdict="add", segment_id=segments[-1].id, code=code, memo=code))
        add_memo(session, project=project, coder=lead, target_kind="code", target=codes[0], text="Keep apart.", replaces=None)
        first, report = exchange.export_project(session, project=project, schema_dir=schemas)
    applied = 2 * len(segments) + len({"trust/built-over-time", "trust/personal"} - {codes[(len(segments) - 1) % len(codes)]})
    assert report["codings"] == applied and report["notes"] == applied - len(segments) + 1 and "sector" in _qde(first)
    _assert_same_qde(first, _round_trip(db, first, schemas))
