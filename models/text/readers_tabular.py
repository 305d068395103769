"""Tabular files (.csv, .jsonl): one Document per row (a survey response), streamed row by row.

The text column is chosen by name (text_column; the error lists the columns when it is missing, and
table_columns previews them); id_column names rows ("<doc id>/<row id>", else the row number);
speaker_column, when given, becomes the speaker of the row's segments (an Anchor over the whole
text). Every other column is kept as the document's metadata (attributes).
A .csv is parsed strictly: a quote that is never closed, or text after a closing quote, refuses the
file with the line where the broken row starts, instead of swallowing the rest of the file into one
field. Header rows repeated anywhere, and a survey tool's extra header rows at the top, are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from models.base import Anchor, Document
from models.text.readers_common import (
    EmptyFile,
    MalformedFile,
    ReadError,
    UndecodableFile,
    choose_encoding,
    looks_like_transcript,
)


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


def _csv_rows(path: Path, lines: Iterator[str]) -> Iterator[dict[str, object]]:
    csv.field_size_limit(10_000_000)
    reader = csv.DictReader(lines, strict=True)
    start = 1  # the line the row being read starts on
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            yield row
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise MalformedFile(
                path, f"is not valid CSV: line {start}: a quoted field is never closed (its quote runs to the end of the "
                f"file at line {reader.line_num}); close the quote or remove it"
            ) from None
        raise MalformedFile(path, f"is not valid CSV: line {max(start, reader.line_num)}: {exc}") from None


def _stream_rows(path: Path, suffix: str, encoding: str | None) -> Iterator[dict[str, object]]:
    lines = _text_stream(path, encoding)
    if suffix == ".csv":
        yield from _csv_rows(path, lines)
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


def tabular_documents(
    path: Path,
    did: str,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    speaker_column: str | None = None,
    encoding: str | None = None,
) -> Iterator[Document]:
    """The rows of a .csv/.jsonl file with text, as Documents, read lazily; EmptyFile when none has text."""
    suffix = path.suffix.lower()
    n = 0
    rows = _stream_rows(path, suffix, encoding)
    for doc in _tabular_documents(rows, path, did, suffix[1:], text_column, id_column, speaker_column):
        if doc.text.strip():
            n += 1
            yield doc
    if not n:
        raise EmptyFile(path, "holds no text")


def table_columns(path: Path, *, encoding: str | None = None, sample: int = 3) -> tuple[list[str], list[dict[str, str]]]:
    """The columns of a .csv/.jsonl file (in file order; for .jsonl, the keys of its first 100 rows)
    and its first `sample` rows, for choosing the text, id and speaker columns."""
    suffix = path.suffix.lower()
    rows = _without_header_rows(_stream_rows(path, suffix, encoding), csv_file=suffix == ".csv")
    columns: dict[str, None] = {}
    first: list[dict[str, str]] = []
    for _, row in itertools.islice(rows, 100):
        columns.update((str(k), None) for k in row if k is not None)
        if len(first) < sample:
            first.append({str(k): "" if v is None else str(v) for k, v in row.items() if k is not None})
        if suffix == ".csv" and len(first) >= sample:
            break
    if not columns:
        raise EmptyFile(path, "holds no rows")
    return list(columns), first


def _missing(path: Path, what: str, column: str, columns: Sequence[object]) -> MalformedFile:
    return MalformedFile(path, f"has no column {column!r}; choose the {what} column with --{what}-column "
                               f"(columns: {', '.join(map(str, columns))})")


def _tabular_documents(
    rows: Iterable[dict[str, object]],
    path: Path,
    did: str,
    fmt: str,
    text_column: str,
    id_column: str | None,
    speaker_column: str | None = None,
) -> Iterator[Document]:
    seen: set[str] = set()
    use_id = False
    first = True
    for n, row in _without_header_rows(rows, csv_file=fmt == "csv"):
        if first:
            first = False
            columns = list(row.keys())
            if text_column not in columns:
                raise _missing(path, "text", text_column, columns)
            if speaker_column is not None and speaker_column not in columns:
                raise _missing(path, "speaker", speaker_column, columns)
            use_id = id_column is not None and id_column in columns
        value = row.get(text_column)
        text = "" if value is None else str(value)
        ident = row.get(id_column) if use_id and id_column is not None else None
        rid = str(ident) if ident is not None and ident != "" else str(n)
        if rid in seen:
            raise MalformedFile(path, f"row {n}: duplicate id {rid!r} in column {id_column!r}")
        seen.add(rid)
        meta = {str(k): str(v) for k, v in row.items() if k not in (text_column, id_column) and v is not None}
        who = row.get(speaker_column) if speaker_column is not None else None
        anchors = (Anchor(0, len(text), speaker=" ".join(str(who).split())[:200]),) if who not in (None, "") and text else ()
        yield Document(f"{did}/{rid}", text, str(path), fmt, looks_like_transcript(text), meta, anchors)
