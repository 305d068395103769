"""Uploading each input format through the API (issue 23): PDF pages, a .docx table and comment,
caption times, and the .csv column picker; a malformed CSV is refused with its line. Every
segment's text is the document's text at its offsets."""

from __future__ import annotations

import io

import pytest

from tests.api.conftest import new_project
from tests.unit.test_readers_formats import SRT, VTT, make_pdf


@pytest.fixture(scope="module")
def project(tmp_path_factory, make_app):
    server = make_app(tmp_path_factory.mktemp("formats"))
    return new_project(server.url, retrain_every=0)


def _upload(owner, pid, name, data, expect=201, **form):
    return owner.ok("POST", f"/projects/{pid}/documents", expect, files={"file": (name, data)}, data=form)


def _segments(owner, pid, doc):
    text = owner.ok("GET", f"/projects/{pid}/documents/{doc['id']}")["text"]
    segs = owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": doc["id"], "limit": 1000})
    for s in segs:
        assert text[s["start"]:s["end"]] == s["text"]
    return text, segs


def _docx() -> bytes:
    import docx

    d = docx.Document()
    p = d.add_paragraph("The steering group met in March.")
    d.add_comment(p.runs, text="Check the date", author="Jane Doe", initials="JD")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Site", "Funding"
    t.cell(1, 0).text, t.cell(1, 1).text = "North", "A grant from the council"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_pdf_docx_and_captions_keep_pages_tables_comments_and_times(project):
    pid, owner = project
    [pdf] = _upload(owner, pid, "report.pdf", make_pdf([["Trust grew slowly."], ["Funding was late."]]), unit="sentence")
    assert pdf["format"] == "pdf"
    _, segs = _segments(owner, pid, pdf)
    assert {s["text"]: s["page"] for s in segs} == {"Trust grew slowly.": 1, "Funding was late.": 2}

    [doc] = _upload(owner, pid, "notes.docx", _docx())
    text, segs = _segments(owner, pid, doc)
    assert "Site | Funding\nNorth | A grant from the council" in text
    assert "[Comment 1, Jane Doe, on “The steering group met in March.”] Check the date" in text
    assert any(s["role"] == "metadata" and "Check the date" in s["text"] for s in segs)

    [vtt] = _upload(owner, pid, "call.vtt", VTT.encode())
    _, segs = _segments(owner, pid, vtt)
    assert [(s["speaker"], s["start_s"], s["end_s"]) for s in segs] == [
        ("Interviewer", 1.0, 4.5), ("Ana", 5.0, 12.0), ("Interviewer", 62.0, 65.0)]
    [srt] = _upload(owner, pid, "call.srt", SRT.encode())
    assert [(s["start_s"], s["end_s"]) for s in _segments(owner, pid, srt)[1]] == [(1.0, 3.0), (3.5, 7.75)]
    [txt] = _upload(owner, pid, "plain.txt", b"Nothing but text here.")
    assert [(s["page"], s["start_s"]) for s in _segments(owner, pid, txt)[1]] == [(None, None)]


def test_csv_column_picker_and_malformed_csv(project):
    pid, owner = project
    data = b"rid,who,answer,site\nr1,Ana,We trust the board.,North\nr2,Ben,Funding is late.,South\n"
    cols = owner.ok("POST", f"/projects/{pid}/documents/columns", files={"file": ("survey.csv", data)})
    assert cols["columns"] == ["rid", "who", "answer", "site"]
    assert cols["text_column"] == "answer" and cols["sample"][1]["who"] == "Ben"
    # without the column chosen, the error names the columns
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("survey.csv", data)})
    assert r.status_code == 422 and "columns: rid, who, answer, site" in r.json()["detail"]
    docs = _upload(owner, pid, "survey.csv", data, text_column="answer", id_column="rid", speaker_column="who")
    assert [d["name"] for d in docs] == ["survey.csv/r1", "survey.csv/r2"]
    assert docs[0]["attributes"] == {"who": "Ana", "site": "North"}
    assert [s["speaker"] for s in _segments(owner, pid, docs[1])[1]] == ["Ben"]

    bad = b'id,text\n1,"Fine so far."\n2,"unterminated\n3,Never read\n'
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("broken.csv", bad)})
    assert r.status_code == 422 and "line 3" in r.json()["detail"] and "never closed" in r.json()["detail"]
    assert "broken.csv/1" not in {d["name"] for d in owner.ok("GET", f"/projects/{pid}/documents", params={"limit": 1000})}
    r = owner.post(f"/projects/{pid}/documents/columns", files={"file": ("a.txt", b"hello")})
    assert r.status_code == 415
