"""Read source files into Documents.

Supported: .txt, .md, .docx, WebVTT .vtt, .srt, and tabular .csv / .jsonl (one response per row).
The text of a .txt/.md file is kept exactly as decoded (CRLF, tabs, BOM-less); for .docx, .vtt and
.srt the stored text is the plain text extracted from them (paragraphs, or one "Speaker: words"
line per speaker turn), and segment offsets refer to that stored text.

Every failure raises a ReadError subclass whose message names the file and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from models.base import Document, LoupeError
from models.text.roles import (
    DEFAULT_INTERVIEWER_LABELS,
    body_range,
    is_interviewer_label,
    is_participant_label,
    is_speaker_key,
    two_turn_transcript,
)

TEXT_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md"}
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".vtt", ".srt", ".csv", ".jsonl")

# A speaker label at the start of a line: "Interviewer:", "P3:", "Participant 4:", "Dr Jones:".
# Markdown emphasis around the label ("**P3:**", "**P3**:") is allowed.
SPEAKER_RE = re.compile(
    r"^[ \t]*(?:\*\*|__)?(?P<label>[A-Z][\w'.\-]*(?:[ \t][A-Z0-9][\w'.\-]*){0,3})[ \t]*"
    r"(?:(?:\*\*|__)?:|:(?:\*\*|__)?)(?:[ \t]+|$)",
    re.MULTILINE,
)
_VOICE_RE = re.compile(r"<v(?:\.[\w.\-]+)?[ \t]+(?P<name>[^>]+)>")
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")


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
    interviewer's label and another speaker's ("Interviewer:" / "P1:"), or two participants'."""
    labels = [m.group("label") for m in SPEAKER_RE.finditer(text)]
    if len(labels) >= 3 and len(set(labels)) < len(labels):
        return True
    if len(set(labels)) < 2:
        return False
    start, end = body_range(text)
    return two_turn_transcript(m.group("label") for m in SPEAKER_RE.finditer(text, start, end))


def read_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    encoding: str | None = None,
) -> list[Document]:
    """Read one file into Documents (one for most formats, one per row for .csv/.jsonl).

    doc_id: the stable id of the document (default: the file name); rows get "<doc_id>/<row id>".
    Raises ReadError (a subclass naming the problem) for unsupported, binary, undecodable,
    empty or malformed files.
    """
    return list(iter_path(path, doc_id=doc_id, text_column=text_column, id_column=id_column, encoding=encoding))


def iter_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    encoding: str | None = None,
) -> Iterator[Document]:
    """Like read_path, but yields Documents as they are read: a .csv/.jsonl file is streamed row by
    row, so a file of a million responses never sits in memory whole. A problem found part-way
    through such a file raises when that row is reached (after the rows before it were yielded)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(
            p, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    did = doc_id or p.name
    if suffix in (".csv", ".jsonl"):
        n = 0
        for doc in _tabular_documents(_stream_rows(p, suffix, encoding), p, did, suffix[1:], text_column, id_column):
            if doc.text.strip():
                n += 1
                yield doc
        if not n:
            raise EmptyFile(p, "holds no text")
        return
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ReadError(p, f"cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise EmptyFile(p, "is empty")
    if suffix == ".docx":
        doc = _read_docx(data, p, did)
    elif suffix in TEXT_FORMATS:
        text = decode_bytes(data, p, encoding)
        doc = Document(did, text, str(p), TEXT_FORMATS[suffix], looks_like_transcript(text))
    elif suffix == ".vtt":
        doc = _read_vtt(decode_bytes(data, p, encoding), p, did)
    else:
        doc = _read_srt(decode_bytes(data, p, encoding), p, did)
    if not doc.text.strip():
        raise EmptyFile(p, "holds no text")
    yield doc


def _read_docx(data: bytes, path: Path, did: str) -> Document:
    import zipfile

    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise MalformedFile(path, f"is not a valid .docx file ({exc.__class__.__name__})") from None
    text = "\n".join(par.text for par in document.paragraphs)
    return Document(did, text, str(path), "docx", looks_like_transcript(text))


def _turn_lines(turns: list[tuple[str | None, str]]) -> str:
    """Merge consecutive cues of one speaker; render one line per turn."""
    merged: list[tuple[str | None, str]] = []
    for speaker, words in turns:
        words = " ".join(words.split())
        if not words:
            continue
        if merged and merged[-1][0] == speaker and speaker is not None:
            merged[-1] = (speaker, merged[-1][1] + " " + words)
        else:
            merged.append((speaker, words))
    return "\n".join(f"{s}: {w}" if s else w for s, w in merged)


def _speakers_meta(turns: list[tuple[str | None, str]]) -> dict[str, str]:
    """Speakers declared by the caption file, so one-line speakers are still recognised."""
    return {"speakers": json.dumps(sorted({s for s, _ in turns if s}))}


def speaker_labels(
    doc_text: str,
    metadata: dict[str, str] | None = None,
    interviewer_labels: tuple[str, ...] = DEFAULT_INTERVIEWER_LABELS,
) -> set[str]:
    """Labels that mark speaker turns: those used at least twice, plus any the file declared, plus,
    when the body shows an exchange (see looks_like_transcript), the known interviewer and
    participant labels and the labels next to an interviewer's, even when used once.

    A one-off label that is neither ("Date: March 2024", "Note: ...") is treated as ordinary text.
    """
    from collections import Counter

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


def _read_vtt(text: str, path: Path, did: str) -> Document:
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except MalformedFileError as exc:
        raise MalformedFile(path, f"is not valid WebVTT: {exc}") from None
    turns: list[tuple[str | None, str]] = []
    for cap in captions.captions:
        raw = cap.raw_text
        voice = _VOICE_RE.search(raw)
        speaker = voice.group("name").strip() if voice else None
        words = _TAG_RE.sub("", raw)
        if speaker is None:
            m = SPEAKER_RE.match(words)
            if m:
                speaker, words = m.group("label"), words[m.end():]
        turns.append((speaker, words))
    body = _turn_lines(turns)
    return Document(did, body, str(path), "vtt", any(s for s, _ in turns), _speakers_meta(turns))


def _read_srt(text: str, path: Path, did: str) -> Document:
    import srt

    try:
        subs = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise MalformedFile(path, f"is not valid SubRip (.srt): {exc}") from None
    turns: list[tuple[str | None, str]] = []
    for sub in subs:
        words = _TAG_RE.sub("", sub.content)
        m = SPEAKER_RE.match(words)
        speaker = m.group("label") if m else None
        turns.append((speaker, words[m.end():] if m else words))
    body = _turn_lines(turns)
    return Document(did, body, str(path), "srt", any(s for s, _ in turns), _speakers_meta(turns))


def _text_stream(path: Path, encoding: str | None) -> Iterator[str]:
    """Lines of a text file, decoded as decode_bytes would decode the whole file, read lazily."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ReadError(path, f"cannot be read: {exc.strerror or exc}") from None
    with f:
        head = f.read(8192)
        if not head.strip():
            raise EmptyFile(path, "is empty")
        enc = choose_encoding(head, path, encoding)
        f.seek(0)
        hint = "" if encoding else "; re-save it as UTF-8 or pass --encoding (e.g. --encoding cp1252)"
        if codecs.lookup(enc).name.startswith(("utf-16", "utf-32")):  # multi-byte newlines: io splits the lines
            try:
                yield from io.TextIOWrapper(f, encoding=enc, newline="")
            except UnicodeDecodeError as exc:
                raise UndecodableFile(path, f"cannot be decoded as {enc}: {exc.reason}{hint}") from None
            return
        decoder = codecs.getincrementaldecoder(enc)()
        n, raw = 0, b""
        try:
            for raw in f:  # b"\n" is never part of a character in these encodings
                n += 1  # the line number, for the error below
                yield decoder.decode(raw)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
        except UnicodeDecodeError as exc:
            where = raw[exc.start:exc.start + 1] if exc.start < len(raw) else raw[-1:]
            raise UndecodableFile(
                path, f"cannot be decoded as {enc.removesuffix('-sig')} at line {n} ({exc.reason}: {where!r}){hint}"
            ) from None


def _stream_rows(path: Path, suffix: str, encoding: str | None) -> Iterator[dict[str, object]]:
    lines = _text_stream(path, encoding)
    if suffix == ".csv":
        csv.field_size_limit(10_000_000)
        reader = csv.DictReader(lines)
        try:
            yield from reader
        except csv.Error as exc:
            raise MalformedFile(path, f"is not valid CSV (line {reader.line_num}): {exc}") from None
        return
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MalformedFile(path, f"line {n} is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise MalformedFile(path, f"line {n} is not a JSON object")
        yield row


def _filled(row: dict[str, object]) -> list[tuple[str, str]]:
    return [(str(k), str(v).strip()) for k, v in row.items() if k is not None and v is not None and str(v).strip()]


def _repeats_header(row: dict[str, object]) -> bool:
    """Each filled cell holds its own column's name: the header again (files joined together)."""
    cells = _filled(row)
    return bool(cells) and all(v.casefold() == k.strip().casefold() for k, v in cells)


def _import_ids(row: dict[str, object]) -> bool:
    """A Qualtrics import-id row: '{"ImportId":"QID1_TEXT"}' in every filled cell."""
    cells = _filled(row)
    return bool(cells) and all(v.replace(" ", "").startswith('{"ImportId"') for _, v in cells)


def _without_header_rows(rows: Iterable[dict[str, object]], *, csv_file: bool) -> Iterator[tuple[int, dict[str, object]]]:
    """(row number, row) for every row that is a response. Left out: the header repeated anywhere,
    and, in a .csv file, a survey tool's extra header rows at the top (Qualtrics puts the question
    texts in row 1 and import ids in row 2, under the column names), read before row 1 is yielded."""
    it = enumerate(rows, start=1)
    head: list[tuple[int, dict[str, object]]] = []
    if csv_file:
        head = list(itertools.islice(it, 2))
        if len(head) == 2 and _import_ids(head[1][1]):
            head = []  # question texts, then import ids
        elif head and _import_ids(head[0][1]):
            head = head[1:]
    for n, row in itertools.chain(head, it):
        if not _repeats_header(row):
            yield n, row


def _tabular_documents(
    rows: Iterable[dict[str, object]],
    path: Path,
    did: str,
    fmt: str,
    text_column: str,
    id_column: str | None,
) -> Iterator[Document]:
    seen: set[str] = set()
    use_id = False
    first = True
    for n, row in _without_header_rows(rows, csv_file=fmt == "csv"):
        if first:
            first = False
            columns = list(row.keys())
            if text_column not in columns:
                raise MalformedFile(
                    path,
                    f"has no column {text_column!r}; choose one with --text-column (columns: {', '.join(map(str, columns))})",
                )
            use_id = id_column is not None and id_column in columns
        value = row.get(text_column)
        text = "" if value is None else str(value)
        ident = row.get(id_column) if use_id and id_column is not None else None
        rid = str(ident) if ident is not None and ident != "" else str(n)
        if rid in seen:
            raise MalformedFile(path, f"row {n}: duplicate id {rid!r} in column {id_column!r}")
        seen.add(rid)
        meta = {str(k): str(v) for k, v in row.items() if k not in (text_column, id_column) and v is not None}
        yield Document(f"{did}/{rid}", text, str(path), fmt, looks_like_transcript(text), meta)
