"""REFI-QDA exchange: a hand-written .qdpx imports as the expected decisions; export -> import ->
export keeps codes, sources and selections; both directions validate against the official XSDs;
hostile or broken archives are refused and leave the database as it was."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree
from sqlalchemy import func, select

from models.codebook import seed_codebook
from models.exchange.errors import QdaError
from models.exchange.qda import codes_of
from models.exchange.qdc import read_qdc, write_qdc
from models.exchange.qdpx import read_qdpx
from models.exchange.schema import parse_xml, validate
from service.exchange import qdpx as exchange
from service.projects.access import Caller
from service.projects.manage import create_project
from service.storage.tables import (
    Decision,
    DocumentRow,
    Project,
    SegmentRow,
    Suggestion,
)
from tests import refi_handmade as hm


def _selections(data: bytes) -> set[tuple[str, int, int, str, str]]:
    """(source name, start, end, code name, user name) for every coding in a .qdpx."""
    qp, _ = read_qdpx(data)
    codes = {c.guid: c.name for c in qp.all_codes()}
    users = {u.guid: u.name for u in qp.users}
    return {(s.name, c.start, c.end, codes[c.code], users.get(c.user or "", "?")) for s in qp.sources for c in s.codings}


def _codes(data: bytes) -> list[tuple[str, str, str, bool, str | None]]:
    qp, _ = read_qdpx(data)

    def walk(codes, parent=""):  # type: ignore[no-untyped-def]
        for c in codes:
            yield (parent, c.guid, c.name, c.codable, c.color)
            yield from walk(c.children, c.name)

    return list(walk(qp.codes))


def test_hand_written_project_imports_as_the_expected_decisions(db, schemas):
    with db.write() as session:
        project, owner, token, report = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        pid = project.id
    assert report["validation"]["validated"] and report["validation"]["errors"] == []
    assert report["unsupported"] == [{"name": "Annual report.pdf", "type": "PDFSource", "guid": hm.REPORT.lower(), "codings": 1}]
    assert {c["name"] for c in report["coders"]} == {"Lead", "Alice", "Bob"}
    assert all(c["token"] for c in report["coders"] if c["name"] != "Lead")
    with db.read() as session:
        book = exchange.current_codebook(session, session.get(Project, pid)).content
        paths = {c["id"]: c for c in book["codes"]}
        assert set(paths) == {"trust", "power"}
        assert [c["id"] for c in paths["trust"]["children"]] == ["personal-trust", "organisational-trust"]
        assert paths["power"]["codable"] is False and paths["power"]["color"] == "#AA3333"
        assert paths["trust"]["definition"] == "Confidence that a partner acts in good faith."
        docs = {d.name: d for d in session.scalars(select(DocumentRow).where(DocumentRow.project_id == pid))}
        assert set(docs) == {"Interview 1", "Field notes"}
        assert docs["Interview 1"].text == hm.INTERVIEW_TEXT and docs["Field notes"].text == hm.NOTES_TEXT
        assert docs["Interview 1"].attributes["Sector"] == "Voluntary"
        rows = session.execute(
            select(Decision, SegmentRow).join(SegmentRow, SegmentRow.id == Decision.segment_id).where(Decision.project_id == pid)
        ).all()
        names = {c["id"]: c["name"] for c in report["coders"]}
        got = sorted((names[d.coder_id], d.verdict, d.code, s.document_id, s.ordinal, d.span_start, d.span_end, d.memo) for d, s in rows)
        interview, notes = docs["Interview 1"].id, docs["Field notes"].id
        # Interview turns: 0 interviewer, 1 "I trust Sarah...", 2 "But the funding..."
        turn = {s.ordinal: (s.start, s.end) for s in session.scalars(select(SegmentRow).where(SegmentRow.document_id == interview))}
        assert turn[1][0] <= hm.ALICE_SPAN[0] < hm.ALICE_SPAN[1] <= turn[1][1]
        expected = sorted([
            ("Alice", "add", "trust/personal-trust", interview, 1, *hm.ALICE_SPAN, "Named person, not the organisation."),
            ("Bob", "add", "trust", interview, 1, *hm.BOB_SPAN, None),
            ("Bob", "add", "trust", interview, 2, *hm.BOB_SPAN, None),
            ("Bob", "add", "power/funding-leverage", interview, 1, *hm.BOB_SPAN, None),
            ("Bob", "add", "power/funding-leverage", interview, 2, *hm.BOB_SPAN, None),
            ("Lead", "add", "trust/organisational-trust", notes, 0, *hm.NOTES_SPAN, None),  # a coding without a user: the importer
        ])
        assert got == expected
    assert report["codings"] == 4 and report["decisions"] == 6


def test_export_import_export_keeps_codes_sources_and_selections(db, schemas):
    with db.write() as session:
        project, *_ = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        first, report1 = exchange.export_project(session, project=project, schema_dir=schemas)
    assert report1["validation"]["validated"] and report1["codings"] == 4
    with db.write() as session:
        again, *_ = exchange.import_project(session, data=first, owner_name="Lead", schema_dir=schemas)
        second, report2 = exchange.export_project(session, project=again, schema_dir=schemas)
    assert report2["validation"]["validated"]
    assert _codes(first) == _codes(second)
    # the original's codes and selections survive (the PDF source and its coding cannot)
    original = _selections(hm.qdpx())
    assert _selections(first) == _selections(second) == {s if s[4] != "?" else (*s[:4], "Lead") for s in original}
    for a, b in ((first, second),):
        qa, _ = read_qdpx(a)
        qb, _ = read_qdpx(b)
        assert [(s.guid, s.name, s.text, s.variables) for s in qa.sources] == [(s.guid, s.name, s.text, s.variables) for s in qb.sources]
        assert {n.text for n in qa.notes.values()} == {n.text for n in qb.notes.values()} == {"Named person, not the organisation."}
    assert {c[1] for c in _codes(first)} >= {hm.TRUST.lower(), hm.FUNDING.lower()}  # the original GUIDs are kept


def test_accepted_suggestion_is_exported_with_its_provenance(db, schemas):
    with db.write() as session:
        project, owner, _, _ = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        segment = session.scalars(select(SegmentRow).where(SegmentRow.project_id == project.id).order_by(SegmentRow.id)).first()
        book = exchange.current_codebook(session, project)
        sug = Suggestion(project_id=project.id, segment_id=segment.id, document_id=segment.document_id, codebook_id=book.id,
                         code="trust", score=0.8731, model="minilm-zero-shot", evidence={})
        session.add(sug)
        session.flush()
        from service.review.ledger import DecisionInput, record

        record(session, project=project, coder=Caller(owner.id, project.id, owner.name, "owner"),
               data=DecisionInput(verdict="accept", suggestion_id=sug.id, memo="clear case"))
        data, report = exchange.export_project(session, project=project, schema_dir=schemas)
    qp, check = read_qdpx(data, schema_dir=schemas)
    assert check.validated and not check.errors
    coded = [c for s in qp.sources for c in s.codings if c.start == segment.start and c.end == segment.end]
    assert len(coded) == 1 and coded[0].user == next(u.guid for u in qp.users if u.name == "Lead")
    note = qp.notes[coded[0].notes[0]].text
    assert "Score 0.873" in note and "model minilm-zero-shot" in note and "codebook version 1" in note and "clear case" in note


def test_codebook_round_trip_validates_and_keeps_the_tree(schemas):
    seed = seed_codebook()
    codes, guids = codes_of(seed, scope="p")
    data, check = write_qdc(codes, schema_dir=schemas)
    assert check.validated and check.ok
    back, check = read_qdc(data, schema_dir=schemas)
    assert [(c.guid, c.name, c.description, c.color, len(c.children)) for c in back] == [
        (c.guid, c.name, c.description, c.color, len(c.children)) for c in codes
    ]
    assert len([c for top in back for c in top.walk()]) == len(seed) == len(guids)


def test_codebook_file_becomes_a_new_version(db, schemas):
    qdc = b"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo">
  <Codes>
    <Code guid="{11111111-2222-4333-8444-555555555555}" name="Leadership" isCodable="true" color="#0a0">
      <Description>Who leads, and how.</Description>
      <Code guid="11111111-2222-4333-8444-555555555556" name="Leadership" isCodable="true"/>
    </Code>
  </Codes>
</CodeBook>"""
    with db.write() as session:
        project, owner, _ = create_project(session, name="p", owner_name="o")
        row, report = exchange.import_codebook(session, project=project, coder=Caller(owner.id, project.id, "o", "owner"), data=qdc, schema_dir=schemas)
        assert row.version == 2 and report["codes"] == 2 and report["validation"]["validated"]
        code = row.content["codes"][0]
        assert (code["id"], code["color"], code["guid"], code["children"][0]["id"]) == ("leadership", "#00AA00", "11111111-2222-4333-8444-555555555555", "leadership")
        out, _ = exchange.export_codebook(session, project=project, version=2, schema_dir=schemas)
        root = parse_xml(out, "export")
        assert validate(root, "codebook", schemas).ok
        assert [c.get("guid") for c in root.iter("{urn:QDA-XML:codebook:1.0}Code")] == ["11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555556"]


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", hm.PROJECT_QDE.encode())
        zf.writestr(f"sources/{hm.INTERVIEW}.txt", b"\0" * (64 << 20))
    return buf.getvalue()


BROKEN = {
    "not a zip": (lambda: b"PK\x03\x04 this is not really a zip", "not a readable zip archive"),
    "bad XML": (lambda: hm.qdpx(qde="<Project xmlns='urn:QDA-XML:project:1.0' name='x'><Users>"), "not well-formed XML"),
    "path escaping the archive": (lambda: hm.qdpx(extra={"../../etc/evil.txt": b"x"}), "unsafe path"),
    "absolute path": (lambda: hm.qdpx(extra={"/tmp/evil.txt": b"x"}), "unsafe path"),
    "zip bomb": (_bomb, "zip bomb"),
    "missing source": (lambda: hm.qdpx(drop_interview=True), "is missing from the archive"),
    "unknown code": (lambda: hm.qdpx(qde=hm.PROJECT_QDE.replace(f'<CodeRef targetGUID="{hm.ORGANISATIONAL}"/>', '<CodeRef targetGUID="99999999-0000-4000-8000-000000000000"/>')),
                     "not in the project's codebook"),
    "schema violation": (lambda: hm.qdpx(qde=hm.PROJECT_QDE.replace('name="Personal trust" isCodable="true"', 'name="Personal trust"')),
                         "isCodable"),
    "external source": (lambda: hm.qdpx(qde=hm.PROJECT_QDE.replace(f"internal://{hm.INTERVIEW}.txt", "absolute:///home/me/interview.txt")),
                        "outside the archive"),
    "entity expansion": (lambda: hm.qdpx(qde='<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                                          '<Project xmlns="urn:QDA-XML:project:1.0" name="&b;"/>'), "declares a DTD"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_or_hostile_archives_are_refused_and_store_nothing(db, schemas, case):
    make, message = BROKEN[case]
    with db.write() as session:
        create_project(session, name="existing", owner_name="o")
    with db.read() as session:
        before = [session.scalar(select(func.count()).select_from(t)) for t in (Project, DocumentRow, Decision)]
    with pytest.raises(QdaError) as err:
        with db.write() as session:
            exchange.import_project(session, data=make(), owner_name="Lead", schema_dir=schemas)
    assert message in str(err.value), str(err.value)
    with db.read() as session:
        assert [session.scalar(select(func.count()).select_from(t)) for t in (Project, DocumentRow, Decision)] == before


def test_schema_errors_name_the_element(schemas):
    bad = hm.PROJECT_QDE.replace('startPosition="', 'startPosition="x')
    with pytest.raises(QdaError) as err:
        read_qdpx(hm.qdpx(qde=bad), schema_dir=schemas)
    assert "Project/Sources/TextSource[1]/PlainTextSelection[1]" in str(err.value)
    assert "line " in str(err.value)


def test_without_schemas_files_are_still_parsed_strictly(tmp_path, monkeypatch):
    monkeypatch.setenv("LOUPE_REFI_SCHEMA_DIR", str(tmp_path))  # holds no schema
    import models.exchange.schema as schema_mod

    monkeypatch.setattr(schema_mod, "find_schema_dir", lambda explicit=None: None)
    qp, check = read_qdpx(hm.qdpx())
    assert not check.validated and "LOUPE_REFI_SCHEMA_DIR" in check.as_dict()["note"]
    assert len(qp.sources) == 2
    with pytest.raises(QdaError, match="is not a whole number"):
        read_qdpx(hm.qdpx(qde=hm.PROJECT_QDE.replace('startPosition="', 'startPosition="x')))


def test_qdpx_export_is_deterministic(db, schemas):
    with db.write() as session:
        project, *_ = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        a, _ = exchange.export_project(session, project=project, schema_dir=schemas)
        b, _ = exchange.export_project(session, project=project, schema_dir=schemas)
    assert a == b
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(a)).read("project.qde"))
    assert root.get("origin", "").startswith("Loupe")


def test_memos_travel_with_the_project(db, schemas):
    from service.analysis.memos import add_memo, memos

    with db.write() as session:
        project, owner, _, _ = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        lead = Caller(owner.id, project.id, owner.name, "owner")
        doc = session.scalars(select(DocumentRow).where(DocumentRow.project_id == project.id).order_by(DocumentRow.id)).first()
        add_memo(session, project=project, coder=lead, target_kind="project", target="", text="Phase 2 done.", replaces=None)
        add_memo(session, project=project, coder=lead, target_kind="code", target="trust", text="Trust: keep personal apart.", replaces=None)
        add_memo(session, project=project, coder=lead, target_kind="document", target=str(doc.id), text="Interview ran short.", replaces=None)
        first, _ = exchange.export_project(session, project=project, schema_dir=schemas)
    with db.write() as session:
        again, _, _, report = exchange.import_project(session, data=first, owner_name="Lead", schema_dir=schemas)
        assert report["memos"] == 3
        got = {(m.target_kind, m.text) for m in memos(session, project=again, coder=None)}
        second, _ = exchange.export_project(session, project=again, schema_dir=schemas)
    assert got == {("project", "Phase 2 done."), ("code", "Trust: keep personal apart."), ("document", "Interview ran short.")}
    texts = lambda data: sorted(n.text for n in read_qdpx(data)[0].notes.values())  # noqa: E731
    assert texts(first) == texts(second)


def test_merged_codes_keep_their_selections_in_the_export(db, schemas):
    from service.codebooks.restructure import merge

    with db.write() as session:
        project, owner, _, _ = exchange.import_project(session, data=hm.qdpx(), owner_name="Lead", schema_dir=schemas)
        lead = Caller(owner.id, project.id, owner.name, "owner")
        merge(session, project=project, coder=lead, codes=["trust/personal-trust", "trust/organisational-trust"],
              into={"name": "Kinds of trust", "id": "kinds", "parent": "trust"})
        data, _ = exchange.export_project(session, project=project, schema_dir=schemas)
    got = _selections(data)
    assert ("Interview 1", *hm.ALICE_SPAN, "Kinds of trust", "Alice") in got  # the selection, not the whole segment
    assert ("Field notes", *hm.NOTES_SPAN, "Kinds of trust", "Lead") in got
    assert not any(name in ("Personal trust", "Organisational trust") for *_, name, _ in got)
