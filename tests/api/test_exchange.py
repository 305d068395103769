"""REFI-QDA over real HTTP, on SQLite and PostgreSQL: a hand-written .qdpx imports as a project,
an accepted model suggestion leaves with its provenance, export -> import -> export keeps the
selections, a .qdc round trip makes no needless version, and broken files are refused (4xx)
without creating anything."""

from __future__ import annotations

import io
import zipfile

from models.exchange.qdpx import read_qdpx
from tests import refi_handmade as hm
from tests.api.conftest import Api, wait_for_job
from tests.conftest import shared_path


def _import(server_url: str, data: bytes, expect: int = 201, **form: str) -> dict:
    return Api(server_url).ok("POST", "/projects/import", expect, files={"file": ("study.qdpx", data)}, data={"owner": "Lead", **form})


def _selections(data: bytes) -> set[tuple]:
    qp, _ = read_qdpx(data)
    codes = {c.guid: c.name for c in qp.all_codes()}
    users = {u.guid: u.name for u in qp.users}
    return {(s.name, c.start, c.end, codes[c.code], users[c.user]) for s in qp.sources for c in s.codings}


def test_qdpx_import_review_export_round_trip(make_server, backend):
    shared_path("refi-qda")  # the schemas validate both directions
    url, _ = backend
    server = make_server(url, LOUPE_REFI_SCHEMA_DIR=str(shared_path("refi-qda"))).start()
    made = _import(server.url, hm.qdpx())
    pid, report = made["project"]["id"], made["report"]
    assert report["validation"]["validated"] and report["decisions"] == 6 and report["codings"] == 4
    assert [u["type"] for u in report["unsupported"]] == ["PDFSource"]
    owner = Api(server.url, made["owner"]["token"])
    alice = Api(server.url, next(c["token"] for c in report["coders"] if c["name"] == "Alice"))
    ledger = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 100})
    assert len(ledger["items"] if isinstance(ledger, dict) else ledger) == 6

    # the model proposes, Alice accepts one: the export keeps score, model and codebook version in a note
    owner.ok("PATCH", f"/projects/{pid}", json={"threshold": 0.05})
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert job["status"] == "done", job["error"]
    item = alice.ok("GET", f"/projects/{pid}/queue", params={"limit": 1})["items"][0]["suggestion"]
    alice.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": item["id"], "verdict": "accept"})

    r = alice.get(f"/projects/{pid}/export.qdpx")
    assert r.status_code == 200 and r.headers["x-loupe-validated"] == "true"
    first = r.content
    qp, check = read_qdpx(first, schema_dir=shared_path("refi-qda"))
    assert check.validated and not check.errors
    notes = [qp.notes[n].text for s in qp.sources for c in s.codings for n in c.notes]
    assert any(f"Score {item['score']:.3f}" in t and item["model"] in t and "codebook version 1" in t for t in notes)
    expected = {(*s[:4], "Lead" if s[4] == "?" else s[4]) for s in _selections_of_original()}
    assert expected < _selections(first)  # the hand-made codings, plus Alice's accepted suggestion

    again = _import(server.url, first)
    other = Api(server.url, again["owner"]["token"])
    second = other.get(f"/projects/{again['project']['id']}/export.qdpx").content
    assert _selections(second) == _selections(first)

    # a .qdc round trip of an unchanged codebook makes no new version
    qdc = owner.get(f"/projects/{pid}/codebook/export.qdc")
    assert qdc.status_code == 200 and qdc.content.startswith(b"<?xml")
    back = owner.ok("POST", f"/projects/{pid}/codebook/qdc", 200, files={"file": ("book.qdc", qdc.content)})
    assert back["codebook"]["version"] == 1 and back["report"]["codes"] == 5
    assert alice.post(f"/projects/{pid}/codebook/qdc", files={"file": ("book.qdc", qdc.content)}).status_code == 403


def _selections_of_original() -> set[tuple]:
    qp, _ = read_qdpx(hm.qdpx())
    codes = {c.guid: c.name for c in qp.all_codes()}
    users = {u.guid: u.name for u in qp.users}
    return {(s.name, c.start, c.end, codes[c.code], users.get(c.user or "", "?")) for s in qp.sources for c in s.codings}


def test_broken_files_are_refused_and_create_nothing(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "refused", LOUPE_MAX_UPLOAD_MB="1").start()
    first = _import(server.url, hm.qdpx())["project"]["id"]
    bad_xml = hm.qdpx(qde="<Project xmlns='urn:QDA-XML:project:1.0' name='x'><Users>")
    escaping = hm.qdpx(extra={"../evil.txt": b"x"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", hm.PROJECT_QDE)
        zf.writestr(f"sources/{hm.INTERVIEW}.txt", b"a" * (64 << 20))  # a zip bomb well under the upload limit
    assert len(buf.getvalue()) < 1 << 20
    for data, message in ((b"not a zip", "not a readable zip archive"), (bad_xml, "not well-formed XML"),
                          (escaping, "unsafe path"), (buf.getvalue(), "zip bomb"), (hm.qdpx(drop_interview=True), "missing from the archive")):
        body = _import(server.url, data, 422)
        assert message in body["detail"], body
    assert Api(server.url).post("/projects/import", files={"file": ("study.zip", hm.qdpx())}).status_code == 422
    assert Api(server.url).post("/projects/import", files={"file": ("big.qdpx", b"x" * (2 << 20))}).status_code == 413
    assert _import(server.url, hm.qdpx())["project"]["id"] == first + 1  # nothing was created in between
