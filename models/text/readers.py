"""Read source files into Documents: the one entry point, by file type.

Supported: .txt, .md, .docx, .pdf, WebVTT .vtt, .srt, and tabular .csv / .jsonl (one response per
row). The text of a .txt/.md file is kept exactly as decoded (CRLF, tabs, BOM-less); for .docx,
.pdf, .vtt and .srt the stored text is the plain text extracted from them, and segment offsets
refer to that stored text. Where the text came from (a PDF page, a caption's times, a .docx table
or comment, a row's speaker column) rides along as Document.anchors.

One module per family: readers_common (errors, decoding, speaker labels), readers_office (.docx,
.pdf), readers_captions (.vtt, .srt), readers_tabular (.csv, .jsonl). Every failure raises a
ReadError subclass whose message names the file and says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from models.base import Document
from models.text.readers_captions import read_srt, read_vtt
from models.text.readers_common import (
    SPEAKER_RE,
    BinaryFile,
    EmptyFile,
    MalformedFile,
    ReadError,
    UndecodableFile,
    UnsupportedFormat,
    choose_encoding,
    decode_bytes,
    looks_like_transcript,
    speaker_labels,
)
from models.text.readers_office import read_docx, read_pdf
from models.text.readers_tabular import table_columns, tabular_documents

__all__ = [
    "SPEAKER_RE", "SUPPORTED_SUFFIXES", "TABULAR_SUFFIXES", "BinaryFile", "EmptyFile", "MalformedFile", "ReadError",
    "UndecodableFile", "UnsupportedFormat", "choose_encoding", "decode_bytes", "iter_path", "looks_like_transcript",
    "read_path", "speaker_labels", "table_columns",
]

TEXT_FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md"}
TABULAR_SUFFIXES = (".csv", ".jsonl")
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".pdf", ".vtt", ".srt", *TABULAR_SUFFIXES)


def read_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    speaker_column: str | None = None,
    encoding: str | None = None,
) -> list[Document]:
    """Read one file into Documents (one for most formats, one per row for .csv/.jsonl).

    doc_id: the stable id of the document (default: the file name); rows get "<doc_id>/<row id>".
    speaker_column (.csv/.jsonl): the column naming who wrote or said the row's text.
    Raises ReadError (a subclass naming the problem) for unsupported, binary, undecodable,
    empty or malformed files.
    """
    return list(iter_path(path, doc_id=doc_id, text_column=text_column, id_column=id_column,
                          speaker_column=speaker_column, encoding=encoding))


def _check_suffix(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(
            p, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return suffix


def iter_path(
    path: str | Path,
    *,
    doc_id: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    speaker_column: str | None = None,
    encoding: str | None = None,
) -> Iterator[Document]:
    """Like read_path, but yields Documents as they are read: a .csv/.jsonl file is streamed row by
    row, so a file of a million responses never sits in memory whole. A problem found part-way
    through such a file raises when that row is reached (after the rows before it were yielded)."""
    p = Path(path)
    suffix = _check_suffix(p)
    did = doc_id or p.name
    if suffix in TABULAR_SUFFIXES:
        yield from tabular_documents(p, did, text_column=text_column, id_column=id_column,
                                     speaker_column=speaker_column, encoding=encoding)
        return
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ReadError(p, f"cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise EmptyFile(p, "is empty")
    if suffix == ".docx":
        doc = read_docx(data, p, did)
    elif suffix == ".pdf":
        doc = read_pdf(data, p, did)
    elif suffix in TEXT_FORMATS:
        text = decode_bytes(data, p, encoding)
        doc = Document(did, text, str(p), TEXT_FORMATS[suffix], looks_like_transcript(text))
    elif suffix == ".vtt":
        doc = read_vtt(decode_bytes(data, p, encoding), p, did)
    else:
        doc = read_srt(decode_bytes(data, p, encoding), p, did)
    if not doc.text.strip():
        raise EmptyFile(p, "holds no text")
    yield doc


def columns_of(path: str | Path, *, encoding: str | None = None, sample: int = 3) -> tuple[list[str], list[dict[str, str]]]:
    """The columns of a .csv/.jsonl file and its first rows (readers_tabular.table_columns)."""
    p = Path(path)
    if _check_suffix(p) not in TABULAR_SUFFIXES:
        raise UnsupportedFormat(p, "only .csv and .jsonl files have columns")
    return table_columns(p, encoding=encoding, sample=sample)
