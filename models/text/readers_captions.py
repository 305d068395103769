"""Caption files (WebVTT .vtt, SubRip .srt) as speaker-turn text with cue times.

The stored text is one "Speaker: words" line per turn (consecutive cues of one speaker merged, the
words of each cue joined by single spaces). Every cue's words get an Anchor with the cue's start
and end in seconds, so a segment knows the time span it covers (models.text.anchors).
Invariant: text[anchor.start:anchor.end] is exactly that cue's words, as rendered.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from models.base import Anchor, Document
from models.text.readers_common import SPEAKER_RE, MalformedFile

_VOICE_RE = re.compile(r"<v(?:\.[\w.\-]+)?[ \t]+(?P<name>[^>]+)>")
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")

Cue = tuple[str | None, str, float, float]  # speaker, words, start s, end s


def _render(cues: list[Cue]) -> tuple[str, tuple[Anchor, ...]]:
    """One line per turn (consecutive cues of one named speaker merged), and each cue's anchor."""
    lines: list[str] = []
    anchors: list[Anchor] = []
    pos = 0  # where the current line starts in the text
    line = ""
    last: str | None = None
    for speaker, raw, t0, t1 in cues:
        words = " ".join(raw.split())
        if not words:
            continue
        if lines or line:
            if speaker is not None and speaker == last:
                line += " "
            else:
                lines.append(line)
                pos += len(line) + 1
                line = f"{speaker}: " if speaker else ""
        else:
            line = f"{speaker}: " if speaker else ""
        start = pos + len(line)
        line += words
        anchors.append(Anchor(start, start + len(words), start_s=round(t0, 3), end_s=round(t1, 3)))
        last = speaker
    if line:
        lines.append(line)
    return "\n".join(lines), tuple(anchors)


def _speakers_meta(cues: list[Cue]) -> dict[str, str]:
    """Speakers declared by the caption file, so one-line speakers are still recognised."""
    return {"speakers": json.dumps(sorted({c[0] for c in cues if c[0]}))}


def _document(cues: list[Cue], path: Path, did: str, fmt: str) -> Document:
    text, anchors = _render(cues)
    return Document(did, text, str(path), fmt, any(c[0] for c in cues), _speakers_meta(cues), anchors)


def read_vtt(text: str, path: Path, did: str) -> Document:
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except MalformedFileError as exc:
        raise MalformedFile(path, f"is not valid WebVTT: {exc}") from None
    cues: list[Cue] = []
    for cap in captions.captions:
        raw = cap.raw_text
        voice = _VOICE_RE.search(raw)
        speaker = voice.group("name").strip() if voice else None
        words = _TAG_RE.sub("", raw)
        if speaker is None:
            m = SPEAKER_RE.match(words)
            if m:
                speaker, words = m.group("label"), words[m.end():]
        cues.append((speaker, words, cap.start_time.in_milliseconds() / 1000, cap.end_time.in_milliseconds() / 1000))
    return _document(cues, path, did, "vtt")


def read_srt(text: str, path: Path, did: str) -> Document:
    import srt

    try:
        subs = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise MalformedFile(path, f"is not valid SubRip (.srt): {exc}") from None
    cues: list[Cue] = []
    for sub in subs:
        words = _TAG_RE.sub("", sub.content)
        m = SPEAKER_RE.match(words)
        cues.append((m.group("label") if m else None, words[m.end():] if m else words,
                     sub.start.total_seconds(), sub.end.total_seconds()))
    return _document(cues, path, did, "srt")
