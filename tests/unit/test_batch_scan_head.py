"""The scan keeps its first segments for the coding pass (Scan.head): the stream is the same as
when everything is read and segmented again, and the kept documents are not segmented twice."""

from __future__ import annotations

import pytest

import service.batch.inputs as inputs
from models.text.segment import SegmentationConfig
from service.batch.inputs import ReadOptions, scan_inputs, stream_corpus
from tests.conftest import SAMPLE

READ = ReadOptions(text_column="response")


def _stream(scan, **kw):
    return [(doc.id, [(s.id, s.start, s.end, s.text, s.sentences, s.role, s.speaker) for s in segs])
            for doc, segs in stream_corpus(scan, read=READ, **kw)]


@pytest.mark.parametrize("limit", [None, 17, 150])
@pytest.mark.parametrize("keep", [5, 40, 10**6])
def test_stream_with_head_equals_a_fresh_read(keep, limit):
    reference = _stream(scan_inputs([SAMPLE], read=READ, limit=limit), limit=limit)
    scan = scan_inputs([SAMPLE], read=READ, limit=limit, keep_segments=keep)
    assert sum(len(h) for h in scan.head) > 0
    assert _stream(scan, limit=limit) == reference
    assert sum(len(segs) for _, segs in reference) == scan.segments


def test_kept_documents_are_not_segmented_again(monkeypatch):
    scan = scan_inputs([SAMPLE], read=READ, keep_segments=10**6)
    assert all(scan.complete)
    expected = _stream(scan_inputs([SAMPLE], read=READ))

    def fail(*a, **k):
        raise AssertionError("segmented twice")

    monkeypatch.setattr(inputs, "segment_document", fail)
    assert _stream(scan) == expected


def test_head_is_not_used_with_other_settings():
    other = SegmentationConfig(unit="sentence")
    scan = scan_inputs([SAMPLE], read=READ, keep_segments=10**6)
    fresh = scan_inputs([SAMPLE], read=READ, segmentation=other)
    assert _stream(scan, segmentation=other) == _stream(fresh, segmentation=other)
    assert _stream(scan, segmentation=other) != _stream(scan)


@pytest.mark.parametrize("limit", [None, 12, 25])
def test_a_file_kept_in_part_is_read_on_after_its_head(tmp_path, limit):
    rows = tmp_path / "rows.csv"
    rows.write_text("id,text\n" + "".join(f"r{i},Answer number {i}. It has two sentences.\n" for i in range(30)), encoding="utf-8")
    read = ReadOptions()
    fresh = [(d.id, [s.text for s in segs]) for d, segs in stream_corpus(scan_inputs([rows], read=read, limit=limit),
                                                                         read=read, limit=limit)]
    scan = scan_inputs([rows], read=read, limit=limit, keep_segments=10)
    assert len(scan.head[0]) == 10 and not scan.complete[0]
    assert [(d.id, [s.text for s in segs]) for d, segs in stream_corpus(scan, read=read, limit=limit)] == fresh
    assert len(fresh) == (limit or 30)
