"""What every reader shares: the errors, decoding, and speaker labels.

Every failure raises a ReadError subclass whose message names the file and says what to do.
A speaker label is a capitalised name of at most four words followed by a colon at the start of a
line (SPEAKER_RE); which labels really mark turns is decided by speaker_labels.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from pathlib import Path

from models.base import LoupeError
from models.text.roles import (
    DEFAULT_INTERVIEWER_LABELS,
    body_range,
    is_interviewer_label,
    is_participant_label,
    is_speaker_key,
    two_turn_transcript,
)

# A speaker label at the start of a line: "Interviewer:", "P3:", "Participant 4:", "Dr Jones:".
# Markdown emphasis around the label ("**P3:**", "**P3**:") is allowed.
SPEAKER_RE = re.compile(
    r"^[ \t]*(?:\*\*|__)?(?P<label>[A-Z][\w'.\-]*(?:[ \t][A-Z0-9][\w'.\-]*){0,3})[ \t]*"
    r"(?:(?:\*\*|__)?:|:(?:\*\*|__)?)(?:[ \t]+|$)",
    re.MULTILINE,
)


class ReadError(LoupeError):
    """A file could not be read. `path` names it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnsupportedFormat(ReadError):
    pass


class BinaryFile(ReadError):
    pass


class UndecodableFile(ReadError):
    pass


class EmptyFile(ReadError):
    pass


class MalformedFile(ReadError):
    pass


def choose_encoding(head: bytes, path: str | Path, encoding: str | None = None) -> str:
    """The encoding to read a file with, from its first bytes: the given one, else UTF-16 when it
    starts with a byte-order mark, else UTF-8 (BOM stripped). NUL bytes in a file that is not
    UTF-16 mean a binary file (BinaryFile); an unknown encoding name is UndecodableFile."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise UndecodableFile(path, f"cannot be decoded as {encoding}: {exc}") from None
        return encoding
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head[:8192]:
        raise BinaryFile(path, "looks like a binary file (NUL bytes), not text; convert it to .txt or .docx")
    return "utf-8-sig"


def decode_bytes(data: bytes, path: str | Path, encoding: str | None = None) -> str:
    """Decode file bytes with the encoding choose_encoding picks; UndecodableFile when they are not."""
    enc = choose_encoding(data, path, encoding)
    try:
        return data.decode(enc)
    except UnicodeDecodeError as exc:
        if encoding:
            raise UndecodableFile(path, f"cannot be decoded as {encoding}: {exc}") from None
        if enc == "utf-16":
            raise UndecodableFile(path, f"has a UTF-16 byte-order mark but is not UTF-16: {exc}") from None
        raise UndecodableFile(
            path,
            f"is not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
            "re-save it as UTF-8 or pass --encoding (e.g. --encoding cp1252)",
        ) from None


def looks_like_transcript(text: str) -> bool:
    """True when at least three lines start with a speaker label and some label recurs, or when
    the body (below any header lines) shows an exchange of known labels even in two turns: an
    interviewer's label and another speaker's ("Interviewer:" / "P1:"), or two participants'. A
    one-line interviewer's question is a transcript too (see speaker_labels)."""
    if _single_line_interviewer(text, DEFAULT_INTERVIEWER_LABELS) is not None:
        return True
    labels = [m.group("label") for m in SPEAKER_RE.finditer(text)]
    if len(labels) >= 3 and len(set(labels)) < len(labels):
        return True
    if len(set(labels)) < 2:
        return False
    start, end = body_range(text)
    return two_turn_transcript(m.group("label") for m in SPEAKER_RE.finditer(text, start, end))


_ANOTHER_LABEL_RE = re.compile(r"(?:^|\s)[A-Z][A-Za-z]*[ \t]?\d*:\s")


def _single_line_interviewer(doc_text: str, interviewer_labels: tuple[str, ...]) -> str | None:
    """The label, when `doc_text` is one line that is an interviewer's question: it opens with an
    interviewer's label, then at least two words ending in a question mark, with no other speaker's
    label in it. A row that answers ("Facilitator: very clear, I trust her.", "Q3: I trust my
    manager.") or holds a question and its answer ("Q: Why did you leave? A: The pay.") stays data."""
    text = doc_text.strip()
    if "\n" in text or "\r" in text:
        return None
    m = SPEAKER_RE.match(text)
    if m is None or not is_interviewer_label(m.group("label"), interviewer_labels):
        return None
    rest = text[m.end():]
    if len(rest.split()) < 2 or not rest.rstrip().endswith("?") or _ANOTHER_LABEL_RE.search(rest):
        return None
    return m.group("label")


def speaker_labels(
    doc_text: str,
    metadata: dict[str, str] | None = None,
    interviewer_labels: tuple[str, ...] = DEFAULT_INTERVIEWER_LABELS,
) -> set[str]:
    """Labels that mark speaker turns: those used at least twice, plus any the file declared, plus,
    when the body shows an exchange (see looks_like_transcript), the known interviewer and
    participant labels and the labels next to an interviewer's, even when used once.

    A one-off label that is neither ("Date: March 2024", "Note: ...") is treated as ordinary text.
    A one-line document that is an interviewer's question ("Interviewer: Who holds the purse
    strings?", a row of a .csv or .jsonl of turns) is that interviewer's turn (_single_line_interviewer;
    "Interviewer: JS" stays a metadata line, and a row that answers stays data).
    """
    single = _single_line_interviewer(doc_text, interviewer_labels)
    if single is not None:
        return {single}
    counts = Counter(m.group("label") for m in SPEAKER_RE.finditer(doc_text))
    declared = set(json.loads((metadata or {}).get("speakers", "[]")))
    labels = {label for label, n in counts.items() if n >= 2} | declared
    start, end = body_range(doc_text)
    body = [m.group("label") for m in SPEAKER_RE.finditer(doc_text, start, end)]
    if two_turn_transcript(body, interviewer_labels):
        asks = [is_interviewer_label(x, interviewer_labels) for x in body]
        for k, label in enumerate(body):
            beside = (k > 0 and asks[k - 1]) or (k + 1 < len(body) and asks[k + 1])
            if asks[k] or is_participant_label(label) or (beside and is_speaker_key(label)):
                labels.add(label)
    return labels
