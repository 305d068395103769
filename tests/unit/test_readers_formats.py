"""PDF pages, .docx tables and comments, caption times, and the tabular column picker: each kept
with exact offsets (segment text == document text[start:end]), each file written here."""

from __future__ import annotations

import json

import pytest

from models.text.readers import EmptyFile, MalformedFile, UnsupportedFormat, columns_of, read_path
from models.text.segment import SegmentationConfig, segment_document


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal PDF with a text layer: one page per item, one text line per string (Helvetica)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, lines in enumerate(pages):
        ops = ["BT /F1 12 Tf 72 720 Td 14 TL"]
        for line in lines:
            ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _exact(doc, segments):
    for s in segments:
        assert doc.text[s.start:s.end] == s.text


def test_pdf_text_layer_with_page_numbers_on_segments(tmp_path):
    f = tmp_path / "report.pdf"
    f.write_bytes(make_pdf([["Trust in the board grew slowly.", "We met every month."],
                            ["Funding was the hardest part.", "Nobody knew the rules."]]))
    [doc] = read_path(f)
    assert doc.format == "pdf"
    assert "Trust in the board grew slowly." in doc.text and "Funding was the hardest part." in doc.text
    assert [a.page for a in doc.anchors] == [1, 2]
    segs = segment_document(doc, SegmentationConfig(unit="sentence"))
    _exact(doc, segs)
    page_of = {s.text: s.page for s in segs}
    assert page_of["Trust in the board grew slowly."] == 1
    assert page_of["Funding was the hardest part."] == 2


def test_pdf_without_text_is_refused_with_advice(tmp_path):
    f = tmp_path / "scan.pdf"
    f.write_bytes(make_pdf([[]]))
    with pytest.raises(EmptyFile, match="no text layer.*OCR"):
        read_path(f)


def test_docx_table_and_comments_are_kept_as_text_with_offsets(tmp_path):
    import docx

    d = docx.Document()
    first = d.add_paragraph("The steering group met in March.")
    d.add_comment(first.runs, text="Check the date with P3", author="Jane Doe", initials="JD")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["Site", "Staff", "Funding"], ["North", "12", "Grant"], ["South", "4", "None yet"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("After the table, the report goes on.")
    d.save(tmp_path / "t.docx")
    [doc] = read_path(tmp_path / "t.docx")
    lines = doc.text.split("\n")
    assert lines[:5] == ["The steering group met in March.", "Site | Staff | Funding", "North | 12 | Grant",
                         "South | 4 | None yet", "After the table, the report goes on."]
    assert lines[-2:] == ["Comments", "[Comment 1, Jane Doe, on “The steering group met in March.”] Check the date with P3"]
    tables = [doc.text[a.start:a.end] for a in doc.anchors if a.part == "table"]
    assert tables == lines[1:4]
    segs = segment_document(doc, SegmentationConfig(unit="sentence"))
    _exact(doc, segs)
    comment = [s for s in segs if "Check the date" in s.text]
    assert comment and all(s.role == "metadata" for s in comment)  # context, not coded
    assert any("North | 12 | Grant" in s.text and s.role == "data" for s in segs)


def test_docx_transcript_table_rows_become_speaker_turns(tmp_path):
    import docx

    d = docx.Document()
    table = d.add_table(rows=4, cols=2)
    rows = [["Interviewer", "How did it start?"], ["P1", "With a grant."], ["Interviewer", "And then?"], ["P1", "It grew."]]
    for r, (who, said) in enumerate(rows):
        table.cell(r, 0).text, table.cell(r, 1).text = who, said
    d.save(tmp_path / "t.docx")
    [doc] = read_path(tmp_path / "t.docx")
    assert doc.text.split("\n") == ["Interviewer: How did it start?", "P1: With a grant.", "Interviewer: And then?", "P1: It grew."]
    assert doc.is_transcript
    segs = segment_document(doc)
    _exact(doc, segs)
    assert [(s.speaker, s.role) for s in segs][:2] == [("Interviewer", "interviewer"), ("P1", "data")]


VTT = """WEBVTT

00:00:01.000 --> 00:00:04.500
<v Interviewer>How did the project start?

00:00:05.000 --> 00:00:09.250
<v Ana>It started with a grant.

00:00:09.250 --> 00:00:12.000
<v Ana>Then the council joined us.

00:01:02.000 --> 00:01:05.000
<v Interviewer>Thank you.
"""

SRT = """1
00:00:01,000 --> 00:00:03,000
Interviewer: What changed?

2
00:00:03,500 --> 00:00:07,750
P2: Everything changed after the merger.
"""


def test_vtt_cue_times_on_segments(tmp_path):
    f = tmp_path / "a.vtt"
    f.write_text(VTT)
    [doc] = read_path(f)
    assert doc.text.split("\n")[1] == "Ana: It started with a grant. Then the council joined us."
    segs = segment_document(doc, SegmentationConfig(unit="sentence"))
    _exact(doc, segs)
    times = {s.text: (s.start_s, s.end_s) for s in segs}
    assert times["How did the project start?"] == (1.0, 4.5)
    assert times["It started with a grant."] == (5.0, 9.25)
    assert times["Then the council joined us."] == (9.25, 12.0)
    assert times["Thank you."] == (62.0, 65.0)
    turns = segment_document(doc, SegmentationConfig(unit="turn"))
    ana = [s for s in turns if s.speaker == "Ana"]
    assert [(s.start_s, s.end_s) for s in ana] == [(5.0, 12.0)]  # a turn spans its cues


def test_srt_cue_times_on_segments(tmp_path):
    f = tmp_path / "a.srt"
    f.write_text(SRT)
    [doc] = read_path(f)
    segs = segment_document(doc)
    _exact(doc, segs)
    assert [(s.speaker, s.start_s, s.end_s) for s in segs] == [("Interviewer", 1.0, 3.0), ("P2", 3.5, 7.75)]


def test_csv_unterminated_quote_is_refused_with_its_line(tmp_path):
    f = tmp_path / "survey.csv"
    f.write_text('id,text\n1,"Fine so far."\n2,"unterminated\n3,Never read\n4,Nor this\n')
    with pytest.raises(MalformedFile, match=r"line 3: a quoted field is never closed"):
        read_path(f)
    g = tmp_path / "stray.csv"
    g.write_text('id,text\n1,ok\n2,"closed" then more\n')
    with pytest.raises(MalformedFile, match=r"line 3"):
        read_path(g)


def test_column_picker_text_id_and_speaker_columns(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("rid,who,answer,site\nr1,Ana,We trust the board.,North\nr2,Ben,Funding is late.,South\n")
    cols, sample = columns_of(f)
    assert cols == ["rid", "who", "answer", "site"]
    assert sample[0] == {"rid": "r1", "who": "Ana", "answer": "We trust the board.", "site": "North"}
    with pytest.raises(MalformedFile, match=r"no column 'text'.*columns: rid, who, answer, site"):
        read_path(f)
    with pytest.raises(MalformedFile, match=r"no column 'speaker'"):
        read_path(f, text_column="answer", speaker_column="speaker")
    docs = read_path(f, text_column="answer", id_column="rid", speaker_column="who")
    assert [d.id for d in docs] == ["s.csv/r1", "s.csv/r2"]
    assert docs[0].metadata == {"who": "Ana", "site": "North"}
    [seg] = segment_document(docs[0])
    assert seg.speaker == "Ana" and seg.text == "We trust the board."
    j = tmp_path / "s.jsonl"
    j.write_text("\n".join(json.dumps(r) for r in [{"body": "One.", "n": 1}, {"body": "Two.", "n": 2, "extra": "x"}]))
    assert columns_of(j)[0] == ["body", "n", "extra"]
    with pytest.raises(UnsupportedFormat, match="only .csv and .jsonl"):
        columns_of(tmp_path / "t.docx")
