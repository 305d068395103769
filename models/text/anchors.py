"""Where a segment sits in its source file, from the document's anchors (models.base.Anchor).

Invariant: locating never changes a segment's offsets or text; it only reads the anchors that
overlap the segment's [start, end) and reports
  page:    the first page among them (a segment that runs across a page break starts on it),
  start_s: the earliest cue start among them, end_s: the latest cue end,
  speaker: the anchor's speaker (a .csv/.jsonl speaker column), used when the text has no label.
Anchors are sorted by start and do not overlap, so each segment costs a binary search.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from models.base import Anchor


@dataclass(frozen=True)
class Location:
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None


class Locator:
    """Answers `at(start, end)` for one document's anchors."""

    def __init__(self, anchors: tuple[Anchor, ...]) -> None:
        self.anchors = anchors
        self.ends = [a.end for a in anchors]

    def at(self, start: int, end: int) -> Location:
        pages: list[int] = []
        starts: list[float] = []
        ends: list[float] = []
        speaker: str | None = None
        i = bisect_right(self.ends, start)  # the first anchor ending after `start`
        while i < len(self.anchors) and self.anchors[i].start < max(end, start + 1):
            a = self.anchors[i]
            if a.page is not None:
                pages.append(a.page)
            if a.start_s is not None:
                starts.append(a.start_s)
            if a.end_s is not None:
                ends.append(a.end_s)
            speaker = speaker or a.speaker
            i += 1
        return Location(min(pages) if pages else None, min(starts) if starts else None, max(ends) if ends else None, speaker)


def comments_start(anchors: tuple[Anchor, ...], length: int) -> int:
    """Where a .docx's comments begin (they close the text), or `length` when there are none."""
    return min((a.start for a in anchors if a.part == "comment"), default=length)
