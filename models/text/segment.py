"""Split documents into segments with exact character offsets.

Units: "sentence", "turn" (speaker turns), "paragraph", "window" (N sentences, stride S), or
"auto" (turn for transcripts, paragraph otherwise). Units longer than the token budget are split
at sentence boundaries; a single over-long sentence is split at whitespace.

Invariant for every segment: document.text[seg.start:seg.end] == seg.text, and each sentence
span lies inside the segment. Segments never start or end in whitespace.

Text that is not data stays in the document but is marked by `Segment.role` (models.text.roles):
each title or metadata line at the top of a document, and each closing line at its end, is a
segment of its own with role "metadata" (whatever the unit); turns of an interviewer's label
(SegmentationConfig.interviewer_labels) have role "interviewer". Only role "data" is coded and
clustered (`Segment.codable`). Rows of .csv/.jsonl files are responses: they have no header lines.
A .docx's comments (after its body) are metadata lines too. Each segment's page and caption times
come from the document's anchors (models.text.anchors); they never move its offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from models.base import Document, LoupeError, Role, Segment, Span
from models.text.anchors import Locator, comments_start
from models.text.readers import SPEAKER_RE, speaker_labels
from models.text.roles import DEFAULT_INTERVIEWER_LABELS, body_range, is_interviewer_label, line_spans

Unit = Literal["auto", "sentence", "turn", "paragraph", "window"]
TokenCounter = Callable[[str], int]

_WORDISH = re.compile(r"\w+|[^\w\s]")
_PARA_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
TABULAR_FORMATS = ("csv", "jsonl")  # one response per document: no header or closing lines


def approx_tokens(text: str) -> int:
    """Rough WordPiece-like count (words and punctuation, +25% for sub-words); used without a model."""
    n = len(_WORDISH.findall(text))
    return n + n // 4


@dataclass(frozen=True)
class SegmentationConfig:
    unit: Unit = "auto"
    window: int = 3  # sentences per window (unit="window")
    stride: int | None = None  # sentences between window starts; default = window (no overlap)
    max_tokens: int = 200  # budget per segment (the encoder truncates beyond its own limit)
    # speakers whose turns are the interviewer's (role "interviewer"); matched ignoring case, a
    # trailing full stop and a trailing number ("Interviewer 2", "INT.")
    interviewer_labels: tuple[str, ...] = DEFAULT_INTERVIEWER_LABELS

    def __post_init__(self) -> None:
        if isinstance(self.interviewer_labels, str):
            raise LoupeError("interviewer_labels must be a list of labels, not one string")
        object.__setattr__(self, "interviewer_labels", tuple(str(x) for x in self.interviewer_labels))
        if self.unit not in ("auto", "sentence", "turn", "paragraph", "window"):
            raise LoupeError(f"unknown segmentation unit {self.unit!r}; use auto, sentence, turn, paragraph or window")
        if self.window < 1 or (self.stride is not None and self.stride < 1):
            raise LoupeError("window and stride must be at least 1")
        if self.max_tokens < 8:
            raise LoupeError("max_tokens must be at least 8")


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans (document offsets) covering text[start:end], whitespace-trimmed.

    Boundaries come from blingfire; the spans between consecutive boundaries cover every
    non-space character, so nothing is lost even where the splitter normalises text.
    """
    import blingfire

    end = len(text) if end is None else end
    start, end = _strip(text, start, end)
    if start >= end:
        return []
    chunk = text[start:end]
    _, offsets = blingfire.text_to_sentences_and_offsets(chunk)
    cuts = sorted({e for _, e in offsets if 0 < e < len(chunk)})
    spans = []
    prev = 0
    for cut in [*cuts, len(chunk)]:
        s, e = _strip(chunk, prev, cut)
        if s < e:
            spans.append(Span(start + s, start + e))
        prev = cut
    return spans


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    prev = start
    for m in _PARA_BREAK.finditer(text, start, end):
        out.append((prev, m.start()))
        prev = m.end()
    out.append((prev, end))
    return [se for se in (_strip(text, s, e) for s, e in out) if se[0] < se[1]]


def _turns(doc: Document, start: int, end: int, interviewer_labels: tuple[str, ...]) -> list[tuple[str | None, int, int]]:
    """(speaker, content start, content end) within text[start:end]; text before the first label
    has speaker None."""
    text = doc.text
    labels = speaker_labels(text, doc.metadata, interviewer_labels)
    marks = [m for m in SPEAKER_RE.finditer(text, start, end) if m.group("label") in labels]
    out: list[tuple[str | None, int, int]] = []
    if not marks:
        return [(None, start, end)]
    if marks[0].start() > start:
        out.append((None, start, marks[0].start()))
    for i, m in enumerate(marks):
        stop = marks[i + 1].start() if i + 1 < len(marks) else end
        out.append((m.group("label"), m.end(), stop))
    return out


def _split_long_sentence(text: str, span: Span, budget: int, count: TokenCounter) -> list[Span]:
    """Split one over-budget sentence at whitespace into pieces under the budget."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[span.start:span.end])]
    pieces, first = [], 0
    for i in range(1, len(words) + 1):
        s = span.start + words[first][0]
        e = span.start + words[i - 1][1]
        if i == len(words) or count(text[s:span.start + words[i][1]]) > budget:
            pieces.append(Span(s, e))
            first = i
    return pieces


def _pack(text: str, sentences: list[Span], budget: int, count: TokenCounter) -> list[list[Span]]:
    """Greedily group consecutive sentences into groups under the token budget.

    Each sentence is counted once; a group's size is the sum of its sentences' counts.
    """
    groups: list[list[Span]] = []
    current: list[Span] = []
    used = 0
    for sent in sentences:
        n = count(text[sent.start:sent.end])
        if n > budget:
            if current:
                groups.append(current)
                current, used = [], 0
            groups.extend([piece] for piece in _split_long_sentence(text, sent, budget, count))
            continue
        if current and used + n > budget:
            groups.append(current)
            current, used = [], 0
        current.append(sent)
        used += n
    if current:
        groups.append(current)
    return groups


def segment_document(
    doc: Document, config: SegmentationConfig = SegmentationConfig(), count_tokens: TokenCounter = approx_tokens
) -> list[Segment]:
    """Split one document into segments; see the module docstring for the units."""
    text = doc.text
    unit = config.unit
    memo: dict[str, int] = {}

    def count(piece: str) -> int:  # overlapping windows see each sentence several times
        if piece not in memo:
            memo[piece] = count_tokens(piece)
        return memo[piece]

    if unit == "auto":
        unit = "turn" if doc.is_transcript else "paragraph"

    # Header and closing lines: one metadata segment per line, whatever the unit.
    body_start, body_end = (0, len(text)) if doc.format in TABULAR_FORMATS else body_range(text)
    body_end = max(body_start, min(body_end, comments_start(doc.anchors, len(text))))  # .docx comments close the text
    groups: list[tuple[str | None, Role, list[Span]]] = []

    def add_lines(start: int, end: int) -> None:
        for line in line_spans(text, start, end):
            for packed in _pack(text, [line], config.max_tokens, count):
                groups.append((None, "metadata", packed))

    add_lines(0, body_start)
    # Speaker blocks that no segment crosses: turns in transcripts, else the whole body.
    if unit == "turn" or doc.is_transcript:
        blocks = _turns(doc, body_start, body_end, config.interviewer_labels)
    else:
        blocks = [(None, body_start, body_end)]
    for speaker, bs, be in blocks:
        role: Role = "interviewer" if is_interviewer_label(speaker, config.interviewer_labels) else "data"
        # Sentences never cross a blank line.
        paragraphs = [split_sentences(text, ps, pe) for ps, pe in _paragraphs(text, bs, be)]
        paragraphs = [p for p in paragraphs if p]
        if unit == "paragraph":
            chosen = paragraphs
        elif unit == "turn":
            chosen = [[s for p in paragraphs for s in p]] if paragraphs else []
        elif unit == "sentence":
            chosen = [[s] for p in paragraphs for s in p]
        else:  # window
            sents = [s for p in paragraphs for s in p]
            stride = config.stride or config.window
            chosen = []
            for i in range(0, len(sents), stride):
                chosen.append(sents[i:i + config.window])
                if i + config.window >= len(sents):
                    break
        for group in chosen:
            for packed in _pack(text, group, config.max_tokens, count):
                groups.append((speaker, role, packed))
    add_lines(body_end, len(text))

    segments = []
    locator = Locator(doc.anchors)
    for ordinal, (speaker, role, sents) in enumerate(groups):
        start, end = sents[0].start, sents[-1].end
        rel = tuple(Span(s.start - start, s.end - start) for s in sents)
        where = locator.at(start, end)
        segments.append(
            Segment(
                id=f"{doc.id}#{ordinal}",
                document_id=doc.id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=text[start:end],
                speaker=speaker or where.speaker,
                sentences=rel,
                role=role,
                page=where.page,
                start_s=where.start_s,
                end_s=where.end_s,
            )
        )
    return segments


def segment_documents(
    docs: Iterable[Document], config: SegmentationConfig = SegmentationConfig(), count_tokens: TokenCounter = approx_tokens
) -> Iterable[Segment]:
    for doc in docs:
        yield from segment_document(doc, config, count_tokens)
