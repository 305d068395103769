"""Segmentation: exact offsets always, speaker turns, units, and the token budget."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.base import Document, LoupeError
from models.text.readers import looks_like_transcript, read_path
from models.text.segment import SegmentationConfig, segment_document, split_sentences
from tests.conftest import SAMPLE

TRANSCRIPT = (
    "Interview 3, May 2024\r\nDate: 12 May.\r\n\r\n"
    "Interviewer: How do you see trust?\r\n"
    "P3: Well. I think trust\tis built over time 😀. Émile agrees!\r\nAnd it continues here.\r\n\r\n"
    "New para in turn.\r\n"
    "Interviewer: Thanks.\r\n"
    "P3: OK — 以上です。"
)


def _doc(text: str, transcript: bool | None = None) -> Document:
    return Document("d", text, "d.txt", "txt", looks_like_transcript(text) if transcript is None else transcript)


def _check(doc: Document, segs) -> None:
    for s in segs:
        assert doc.text[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
        for sent in s.sentences:
            assert 0 <= sent.start < sent.end <= len(s.text)


def test_turns_keep_speakers_and_exact_offsets():
    doc = _doc(TRANSCRIPT)
    segs = segment_document(doc)
    _check(doc, segs)
    assert [s.speaker for s in segs] == [None, None, "Interviewer", "P3", "Interviewer", "P3"]
    # header lines are one metadata segment each; a label seen once ("Date:") is not a speaker
    assert [s.text for s in segs[:2]] == ["Interview 3, May 2024", "Date: 12 May."]
    assert [s.role for s in segs] == ["metadata", "metadata", "interviewer", "data", "interviewer", "data"]
    # a turn spans its paragraphs; the label is not part of the segment
    assert segs[3].text.startswith("Well.") and segs[3].text.endswith("New para in turn.")
    assert [segs[3].text[x.start:x.end] for x in segs[3].sentences][-1] == "New para in turn."
    assert [s.id for s in segs] == [f"d#{i}" for i in range(6)]


@pytest.mark.parametrize("unit", ["sentence", "paragraph", "turn", "window"])
def test_every_unit_keeps_offsets(unit):
    doc = _doc(TRANSCRIPT)
    segs = segment_document(doc, SegmentationConfig(unit=unit, window=2, stride=1))
    _check(doc, segs)
    assert segs


def test_sentence_and_paragraph_units():
    doc = _doc("First one. Second one!\n\nThird para here?\nStill third.", transcript=False)
    sents = segment_document(doc, SegmentationConfig(unit="sentence"))
    assert [s.text for s in sents] == ["First one.", "Second one!", "Third para here?", "Still third."]
    paras = segment_document(doc)  # auto -> paragraph for non-transcripts
    assert [s.text for s in paras] == ["First one. Second one!", "Third para here?\nStill third."]


def test_sliding_window_overlaps_by_stride():
    doc = _doc("A one. B two. C three. D four.", transcript=False)
    segs = segment_document(doc, SegmentationConfig(unit="window", window=2, stride=1))
    assert [s.text for s in segs] == ["A one. B two.", "B two. C three.", "C three. D four."]


def test_long_turns_split_at_sentences_under_budget():
    sentence = "We worked with the council on the new referral pathway for carers."
    doc = _doc("\n".join(["Interviewer: Go on.", "P1: " + " ".join([sentence] * 30), "Interviewer: Thanks."] * 2))
    segs = segment_document(doc, SegmentationConfig(max_tokens=50))
    _check(doc, segs)
    p1 = [s for s in segs if s.speaker == "P1"]
    assert len(p1) > 2
    assert all(len(s.text.split()) <= 50 for s in p1)
    assert all(s.text.endswith(".") for s in p1)  # cut at sentence bounds


def test_over_long_sentence_is_split_at_whitespace():
    doc = _doc("word " * 400, transcript=False)
    segs = segment_document(doc, SegmentationConfig(max_tokens=40))
    _check(doc, segs)
    assert len(segs) >= 10


def test_bad_config_is_refused():
    with pytest.raises(LoupeError, match="unknown segmentation unit"):
        SegmentationConfig(unit="chapter")  # type: ignore[arg-type]


def test_sample_corpus_segments_cleanly():
    n = 0
    for f in sorted(SAMPLE.iterdir()):
        for doc in read_path(f, text_column="response"):
            segs = segment_document(doc)
            _check(doc, segs)
            n += len(segs)
    assert n > 100


def test_split_sentences_covers_every_character():
    text = "Dr. Smith said: \"We trust them.\"  It took 3.5 years!\r\nReally?\tYes — the NHS e.g. funds it. 😀"
    spans = split_sentences(text)
    covered = "".join(text[s.start:s.end] for s in spans)
    assert covered.replace(" ", "") == "".join(text.split())


ALPHABET = st.sampled_from(list("ab cdé.!?\r\n\t😀ü—P:") + ["P1: ", "Interviewer: ", "\r\n\r\n", "e.g. ", "中文。"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=80).map("".join), st.sampled_from(["auto", "sentence", "paragraph", "turn", "window"]))
def test_offsets_hold_for_any_text(text, unit):
    doc = _doc(text)
    segs = segment_document(doc, SegmentationConfig(unit=unit, window=2, stride=1, max_tokens=8))
    _check(doc, segs)
    # no non-space character is lost (window units overlap, so check coverage as a set)
    covered = set()
    for s in segs:
        covered.update(range(s.start, s.end))
    if unit != "turn" and not doc.is_transcript:
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
