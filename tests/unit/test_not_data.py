"""Text that is not data (header lines, closing lines, interviewer turns, header rows) stays in the
document with exact offsets but is not codable. Every text here was written for this test."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.base import Document, Segment
from models.text.readers import looks_like_transcript, read_path
from models.text.roles import header_lines, is_interviewer_label, is_participant_label
from models.text.segment import SegmentationConfig, segment_document


def _doc(text: str, fmt: str = "txt") -> Document:
    return Document("d", text, "d." + fmt, fmt, looks_like_transcript(text))


def _segs(text: str, **config) -> list[Segment]:
    doc = _doc(text)
    segs = segment_document(doc, SegmentationConfig(**config))
    for s in segs:
        assert doc.text[s.start:s.end] == s.text and s.text == s.text.strip()
    return segs


def _roles(segs: list[Segment]) -> list[tuple[str, str]]:
    return [(s.role, s.text) for s in segs]


HEADED = (
    "Interview R11 - hospice fundraising manager, 9 February 2023\n"
    "Date: 9 February 2023\n"
    "Duration: 52 min\n"
    "Location: Teams video call\n"
    "Participant: R11\n"
    "Interviewer: KM\n"
    "Transcribed by an agency; anonymised by KM\n"
    "Anonymised\n"
    "\n"
    "Interviewer: How did the hospice start working with the council?\n"
    "R11: They came to us after the winter crisis. Honestly, we needed the money more than they needed us.\n"
    "Interviewer: And now?\n"
    "R11: Now it feels more equal, we sit on the same board.\n"
    "\n"
    "[End of interview]\n"
)


def test_header_lines_are_metadata_with_exact_offsets():
    segs = _segs(HEADED)
    assert _roles(segs)[:8] == [("metadata", line) for line in HEADED.splitlines()[:8]]
    assert [(s.role, s.speaker) for s in segs[8:]] == [
        ("interviewer", "Interviewer"), ("data", "R11"), ("interviewer", "Interviewer"), ("data", "R11"), ("metadata", None)
    ]
    assert segs[-1].text == "[End of interview]"
    assert [s.text for s in segs if s.codable] == [
        "They came to us after the winter crisis. Honestly, we needed the money more than they needed us.",
        "Now it feels more equal, we sit on the same board.",
    ]
    # "Interviewer: KM" in the header is a field, not a turn
    assert not any(s.speaker == "Interviewer" and s.text == "KM" for s in segs)


@pytest.mark.parametrize("unit", ["sentence", "paragraph", "turn", "window"])
def test_every_unit_keeps_header_lines_apart(unit):
    segs = _segs(HEADED, unit=unit, window=2, stride=1)
    meta = [s.text for s in segs if s.role == "metadata"]
    assert meta == [*HEADED.splitlines()[:8], "[End of interview]"]
    assert all("R11 -" not in s.text for s in segs if s.codable)


@pytest.mark.parametrize(
    "title",
    [
        "Interview 7 - practice nurse, 14 June 2022",
        "INTERVIEW TRANSCRIPT",
        "# Interview with P14",
        "Focus group 2: carers' forum",
        "Transcript of the interview with a school governor",
        "Tuesday 3 October 2023",
        "14/06/2022, 10:30-11:15",
        "1 hr 5 mins",
        "Recorded on Zoom, 3 October 2023",
        "Date: 3rd October 2023",
        "Site: north locality",
    ],
)
def test_title_and_field_lines_before_prose_are_metadata(title):
    body = "The district nurses and the GPs rarely met. We built the trust slowly, one patient at a time."
    segs = _segs(f"{title}\n\n{body}")
    assert _roles(segs) == [("metadata", title), ("data", body)]


@pytest.mark.parametrize(
    "text",
    [
        "We pay them, so they tend to say yes to whatever we ask.",
        "Trust: it's everything to us, really.\nWe would not last a month without it.",
        "Interview went badly. I froze and said nothing useful for ten minutes.",
        "Yes\n\nWe trust the council more than we did.",
        "Participants described trust as the basis of partnership\nThey said it came from years of working together.",
        "I think the interview was fine\nMostly we talked about the board.",
        "Funding: that is where the power sits, and everybody knows it.",
        "Date night is the only time we get to talk about work.",
    ],
)
def test_a_participants_words_are_never_metadata(text):
    segs = _segs(text)
    assert all(s.codable for s in segs)
    assert not header_lines(text)


def test_a_sentence_under_a_field_line_stops_the_header():
    text = "Date: 3 May 2022\nWe agreed the contract on a handshake, which says a lot.\nLocation: Leeds"
    segs = _segs(text)
    assert _roles(segs) == [
        ("metadata", "Date: 3 May 2022"),
        ("data", "We agreed the contract on a handshake, which says a lot.\nLocation: Leeds"),
    ]


def test_field_lines_lower_down_are_data():
    text = "The board met twice a year.\n\nDate: that was when the decisions were made.\n\nDuration: 47 min"
    assert all(s.codable for s in _segs(text))


def test_weak_lines_need_a_surely_header_line():
    # "Site code: N3" alone could be anything; under a title it is a field
    assert not header_lines("Site code: N3\n\nWe met the ward sisters.")
    segs = _segs("Interview 12\nSite code: N3\n\nWe met the ward sisters.")
    assert _roles(segs)[:2] == [("metadata", "Interview 12"), ("metadata", "Site code: N3")]


@pytest.mark.parametrize(
    "text,interviewer,speaker",
    [
        ("Interviewer: How did it start?\nP1: The council rang us, and we said yes.", "Interviewer", "P1"),
        ("Q: Who holds the purse strings?\nA: The commissioners do, in the end.", "Q", "A"),
        ("Int.: Who decides?\nParticipant 4: Mostly the chair.", "Int.", "Participant 4"),
        ("Facilitator: Shall we begin with funding?\nMaria: Funding is the whole story here.", "Facilitator", "Maria"),
        ("INTERVIEWER 2: Tell me more.\nRespondent: We lost the contract in 2019.", "INTERVIEWER 2", "Respondent"),
        ("P08: We lead it together now.\nI: Since when?", "I", "P08"),
    ],
)
def test_two_turn_transcripts_are_recognised(text, interviewer, speaker):
    assert looks_like_transcript(text)
    segs = _segs(text)
    assert {(s.role, s.speaker) for s in segs} == {("interviewer", interviewer), ("data", speaker)}
    assert [s.speaker for s in segs if s.codable] == [speaker]


def test_two_participant_labels_make_a_transcript():
    text = "P1: The chair decides.\nP2: I disagree, it is the funders."
    assert looks_like_transcript(text)
    assert [(s.role, s.speaker) for s in _segs(text)] == [("data", "P1"), ("data", "P2")]


@pytest.mark.parametrize(
    "text",
    [
        "Date: 3 May\nLocation: Leeds\n\nWe met the board.",
        "Note: this is a draft.\nSummary: trust grew over time.",
        "Trust: the basis of it all.\nPower: who pays.",
    ],
)
def test_field_names_do_not_make_a_transcript(text):
    assert not looks_like_transcript(text)


def test_header_above_a_short_transcript():
    text = "Interview P2 - charity trustee, 3 March 2021\nInterviewer: JS\n\nInterviewer: Who leads?\nP2: Nobody, honestly."
    segs = _segs(text)
    assert _roles(segs) == [
        ("metadata", "Interview P2 - charity trustee, 3 March 2021"),
        ("metadata", "Interviewer: JS"),
        ("interviewer", "Who leads?"),
        ("data", "Nobody, honestly."),
    ]


def test_interviewer_labels_are_configurable():
    text = "KM: What changed?\nR3: The money, mostly.\nKM: Anything else?\nR3: Trust, slowly."
    default = _segs(text)
    assert all(s.codable for s in default)  # KM is not a known interviewer label
    custom = _segs(text, interviewer_labels=["KM"])
    assert [s.speaker for s in custom if s.codable] == ["R3", "R3"]
    assert [s.role for s in custom if s.speaker == "KM"] == ["interviewer", "interviewer"]


def test_label_matching():
    for label in ("Interviewer", "interviewer 2", "INT.", "Int", "I", "Q", "Moderator", "**Facilitator**"):
        assert is_interviewer_label(label), label
    for label in ("P1", "Interviewee", "Ida", "Queenie"):
        assert not is_interviewer_label(label), label
    for label in ("P08", "P 3", "R", "R12", "A", "Participant 4", "Respondent", "Interviewee"):
        assert is_participant_label(label), label
    assert not is_participant_label("Date")


def test_tabular_rows_are_never_headers(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("id,text\n1,3 May 2022\n2,Interview 4 - nothing to add\n", encoding="utf-8")
    docs = read_path(f)
    segs = [s for d in docs for s in segment_document(d)]
    assert [(s.role, s.text) for s in segs] == [("data", "3 May 2022"), ("data", "Interview 4 - nothing to add")]


def test_a_one_line_interviewer_question_is_not_data(tmp_path):
    """A row of a file of turns, or a one-line file, that is an interviewer's question is that
    interviewer's turn, with the label outside the segment. A row that answers, even one that opens
    with a word on the interviewer list, a row holding a question and its answer, a field line
    ("Interviewer: JS") and a remark that is no question stay data."""
    f = tmp_path / "turns.jsonl"
    rows = [
        ("1", "Interviewer: Who holds the purse strings in the end?"),
        ("2", "Q: And how did that start?"),
        ("3", "P08: We rely on them completely."),
        ("4", "Interviewer: JS"),
        ("5", "We told the interviewer: nothing changes."),
        ("6", "Interviewer: Who decides?\nThe board does, mostly."),
        ("7", "Q: Why did you leave? A: The pay was too low."),
        ("8", "Facilitator: very clear, and I trust her judgement."),
        ("9", "Q3: I trust my line manager completely."),
        ("10", "I: don't really know."),
        ("11", "Interviewer: Thanks, that's everything."),
    ]
    f.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows), encoding="utf-8")
    got = {}
    for d in read_path(f, text_column="text", id_column="id"):
        for s in segment_document(d):
            assert d.text[s.start:s.end] == s.text
            got.setdefault(d.id.split("/")[-1], []).append((s.role, s.speaker, s.text))
    assert got["1"] == [("interviewer", "Interviewer", "Who holds the purse strings in the end?")]
    assert got["2"] == [("interviewer", "Q", "And how did that start?")]
    for k in ("3", "4", "5", "6", "7", "8", "9", "10", "11"):
        assert all(role == "data" for role, _, _ in got[k]), (k, got[k])
    assert [r for r in _roles(_segs("Interviewer: Who holds the purse strings in the end?"))] == [
        ("interviewer", "Who holds the purse strings in the end?")]


def test_repeated_header_rows_are_not_responses(tmp_path):
    f = tmp_path / "joined.csv"
    f.write_text("id,text\n1,We trust them.\nid,text\n2,They hold the money.\n", encoding="utf-8")
    assert [(d.id, d.text) for d in read_path(f)] == [("joined.csv/1", "We trust them."), ("joined.csv/2", "They hold the money.")]


def test_survey_tool_header_rows_are_not_responses(tmp_path):
    f = tmp_path / "qualtrics.csv"
    f.write_text(
        "ResponseId,Q3\n"
        "Response ID,What makes a partnership work for you?\n"
        '"{""ImportId"":""_recordId""}","{""ImportId"":""QID3_TEXT""}"\n'
        "R_1,Shared goals and honest talk.\n"
        "R_2,Money on the table.\n",
        encoding="utf-8",
    )
    docs = read_path(f, text_column="Q3", id_column="ResponseId")
    assert [(d.id, d.text) for d in docs] == [("qualtrics.csv/R_1", "Shared goals and honest talk."), ("qualtrics.csv/R_2", "Money on the table.")]


def test_a_two_cue_caption_file_marks_the_interviewer(tmp_path):
    f = tmp_path / "c.vtt"
    f.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>Who decides?\n\n"
        "00:00:05.000 --> 00:00:09.000\n<v P6>The funder, every time.\n",
        encoding="utf-8",
    )
    [doc] = read_path(f)
    assert json.loads(doc.metadata["speakers"]) == ["Interviewer", "P6"]
    segs = segment_document(doc)
    assert [(s.role, s.text) for s in segs] == [("interviewer", "Who decides?"), ("data", "The funder, every time.")]


def test_docx_title_paragraph_is_metadata(tmp_path):
    import docx

    d = docx.Document()
    for line in ["Interview 9 - GP partner, 2 April 2022", "", "Interviewer: Who leads locally?", "P9: The practice managers, quietly."]:
        d.add_paragraph(line)
    d.save(tmp_path / "t.docx")
    [doc] = read_path(tmp_path / "t.docx")
    assert doc.is_transcript
    segs = segment_document(doc)
    assert [(s.role, s.text) for s in segs] == [
        ("metadata", "Interview 9 - GP partner, 2 April 2022"),
        ("interviewer", "Who leads locally?"),
        ("data", "The practice managers, quietly."),
    ]


PIECES = st.sampled_from(
    ["Interview 4 - nurse, 3 May 2022\n", "Date: 3 May\r\n", "Duration: 47 min\n", "Anonymised\n", "\n", "\r\n\r\n",
     "Interviewer: ", "P1: ", "Why? ", "We trust them. ", "Yes\n", "[End of interview]\n", "---\n", " ", "\t", "é😀"]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map("".join), st.sampled_from(["auto", "sentence", "paragraph", "turn", "window"]))
def test_offsets_and_coverage_hold_with_headers(text, unit):
    doc = _doc(text)
    segs = segment_document(doc, SegmentationConfig(unit=unit, window=2, stride=1, max_tokens=8))
    covered = set()
    for s in segs:
        assert doc.text[s.start:s.end] == s.text and s.text == s.text.strip() and s.text
        assert s.role in ("data", "metadata", "interviewer")
        assert s.codable == (s.role == "data")
        covered.update(range(s.start, s.end))
    if unit != "turn" and not doc.is_transcript:
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b c", "\n", "\r\n", " ", "\t"]), max_size=30).map("".join), st.data())
def test_lines_read_backwards_are_the_lines_reversed(text, data):
    from models.text.roles import _lines_backwards, line_spans

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert list(_lines_backwards(text, start, end)) == line_spans(text, start, end)[::-1]
