"""Reading every supported format, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from models.text.readers import (
    BinaryFile,
    EmptyFile,
    MalformedFile,
    UndecodableFile,
    UnsupportedFormat,
    iter_path,
    read_path,
)
from tests.conftest import SAMPLE


def test_txt_kept_exactly_and_detected_as_transcript(tmp_path):
    raw = "Interviewer: Hello?\r\nP1: Hi.\tFine 😀\r\nInterviewer: Thanks.\r\nP1: Bye."
    f = tmp_path / "a.txt"
    f.write_bytes(raw.encode("utf-8"))
    [doc] = read_path(f)
    assert doc.text == raw  # CRLF and tabs untouched
    assert doc.is_transcript
    assert doc.id == "a.txt" and doc.format == "txt"


def test_utf8_bom_and_utf16_are_decoded(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffÉmile said yes.".encode("utf-8"))
    (tmp_path / "u16.txt").write_bytes("Grüße aus Köln.".encode("utf-16"))
    assert read_path(tmp_path / "bom.txt")[0].text == "Émile said yes."
    assert read_path(tmp_path / "u16.txt")[0].text == "Grüße aus Köln."


def test_explicit_encoding(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes("Café crème".encode("cp1252"))
    with pytest.raises(UndecodableFile, match="latin.txt.*--encoding"):
        read_path(f)
    assert read_path(f, encoding="cp1252")[0].text == "Café crème"


def test_docx_paragraphs(tmp_path):
    import docx

    d = docx.Document()
    for line in ["Interviewer: Who leads?", "P2: We share it.", "Interviewer: Why?", "P2: It works."]:
        d.add_paragraph(line)
    d.save(tmp_path / "t.docx")
    [doc] = read_path(tmp_path / "t.docx")
    assert doc.text.splitlines()[1] == "P2: We share it."
    assert doc.is_transcript and doc.format == "docx"


def test_vtt_voice_tags_become_speaker_turns():
    [doc] = read_path(SAMPLE / "p05_volunteer_coordinator.vtt")
    lines = doc.text.splitlines()
    assert lines[0] == "Interviewer: Can you tell me what your role involves?"
    # consecutive cues of one voice merge into one turn
    assert lines[1].startswith("P05: I coordinate about two hundred volunteers") and "We're a separate charity" in lines[1]
    assert json.loads(doc.metadata["speakers"]) == ["Interviewer", "P05"]


def test_srt_speaker_labels():
    [doc] = read_path(SAMPLE / "p06_discharge_manager.srt")
    assert doc.text.startswith("Interviewer: What does the discharge team do")
    assert "\nP06: We work with three charities" in doc.text
    assert "-->" not in doc.text


def test_csv_rows_become_documents_with_metadata():
    docs = read_path(SAMPLE / "survey_open_responses.csv", text_column="response", id_column="id")
    assert len(docs) == 15
    assert docs[0].id == "survey_open_responses.csv/R01"
    assert docs[0].metadata == {"role": "Service manager", "sector": "voluntary"}


def test_csv_without_the_text_column_names_the_columns(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("id,answer\n1,yes\n", encoding="utf-8")
    with pytest.raises(MalformedFile, match=r"no column 'text'.*--text-column.*answer"):
        read_path(f)


def test_jsonl_rows_and_bad_lines(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"id": "a", "text": "First."}\n\n{"id": "b", "text": "Second."}\n', encoding="utf-8")
    assert [d.id for d in read_path(f)] == ["r.jsonl/a", "r.jsonl/b"]
    f.write_text('{"id": "a", "text": "First."}\n{oops\n', encoding="utf-8")
    with pytest.raises(MalformedFile, match="r.jsonl: line 2 is not valid JSON"):
        read_path(f)


def test_duplicate_row_ids_are_refused(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("id,text\n1,a\n1,b\n", encoding="utf-8")
    with pytest.raises(MalformedFile, match="duplicate id '1'"):
        read_path(f)


@pytest.mark.parametrize(
    "name,content,error,message",
    [
        ("x.rtf", b"{\\rtf1 hello}", UnsupportedFormat, "unsupported file type .rtf"),
        ("x.pdf", b"%PDF-1.4", MalformedFile, "not a readable PDF"),
        ("bin.txt", b"\x00\x01\x02\x00binary", BinaryFile, "binary"),
        ("bad.txt", b"caf\xe9 \xff\xfe\xfa", UndecodableFile, "not valid UTF-8"),
        ("empty.txt", b"  \n\t ", EmptyFile, "is empty"),
        ("broken.docx", b"PK\x03\x04 not a zip", MalformedFile, "not a valid .docx"),
        ("broken.vtt", b"NOT A VTT FILE\n\nhello", MalformedFile, "not valid WebVTT"),
    ],
)
def test_bad_files_raise_errors_naming_the_file(tmp_path, name, content, error, message):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(error, match=message) as info:
        read_path(f)
    assert info.value.path == str(f)
    assert str(f) in str(info.value)


def test_tabular_files_are_streamed_row_by_row(tmp_path):
    """iter_path yields rows as it reads them: rows before a bad line come out, then the error names it."""
    f = tmp_path / "big.jsonl"
    f.write_text('{"id": 1, "text": "first"}\n{"id": 2, "text": "second"}\n{"id": 3, "text": oops}\n', encoding="utf-8")
    stream = iter_path(f)
    assert [next(stream).text, next(stream).text] == ["first", "second"]
    with pytest.raises(MalformedFile, match="line 3 is not valid JSON"):
        next(stream)


def test_streamed_csv_reports_where_decoding_fails(tmp_path):
    f = tmp_path / "answers.csv"
    good = "".join(f"{i},answer number {i}\n" for i in range(5000))
    f.write_bytes(b"id,text\n" + good.encode() + b"5000,caf\xe9 au lait\n")
    with pytest.raises(UndecodableFile, match=r"at line 5002.*--encoding"):
        list(iter_path(f))
    docs = list(iter_path(f, encoding="cp1252"))
    assert len(docs) == 5001 and docs[-1].text == "café au lait" and docs[0].id == "answers.csv/0"


def test_streamed_csv_keeps_bom_multiline_quotes_and_utf16(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text('id,text\r\n1,"a long answer\r\nover two lines"\r\n2,short\r\n', encoding="utf-8-sig", newline="")
    docs = read_path(f)
    assert [d.id for d in docs] == ["q.csv/1", "q.csv/2"] and docs[0].text == "a long answer\r\nover two lines"
    u = tmp_path / "u.csv"
    u.write_text("id,text\n1,Grüße\n", encoding="utf-16")
    assert read_path(u)[0].text == "Grüße"


def test_streamed_jsonl_cut_inside_a_character_is_a_clear_error(tmp_path):
    f = tmp_path / "cut.jsonl"
    f.write_bytes(b'{"id": 1, "text": "fine"}\n{"id": 2, "text": "ok"} ' + "é".encode()[:1])  # half a character
    with pytest.raises(UndecodableFile, match="at line 2"):
        list(iter_path(f))
    bad16 = tmp_path / "bad16.csv"
    bad16.write_bytes(b"\xff\xfe" + "id,text\n1,ok\n".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(UndecodableFile, match="utf-16"):
        list(iter_path(bad16))
