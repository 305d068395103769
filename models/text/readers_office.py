"""Word (.docx) and PDF files as plain text with anchors (models.base.Anchor).

.docx: paragraphs and tables in body order, one line each ("\\n" between them, as before tables
were read). A table row is one line: its cells joined by " | ", or "Label: words" when the table is
a transcript (every row two cells, a speaker label and words, some label recurring: "Interviewer" |
"How did it start?"); each row has an Anchor(part="table"). The file's comments close the text, after a blank line and a "Comments"
line: one line each, "[Comment N, Author, on “commented words”] comment text", each with an
Anchor(part="comment"); the segmenter keeps them as metadata lines (context, never coded).
Nothing in the file's text is dropped silently.

.pdf: the text layer, page by page (pypdf), pages separated by a blank line so that no paragraph
runs across a page break; each page's text has an Anchor(page=n), n from 1. A PDF without a text
layer (a scan) is refused with the advice to run OCR first; an encrypted one unless it opens with
an empty password.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from models.base import Anchor, Document
from models.text.anchors import comments_start
from models.text.readers_common import SPEAKER_RE, EmptyFile, MalformedFile, looks_like_transcript

_QUOTE_CHARS = 80


def _cells(row: Any) -> list[str]:
    """A table row's cell texts, each merged cell once, whitespace collapsed."""
    out: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        out.append(" ".join(cell.text.split()))
    return out


def _label(cells: list[str]) -> str | None:
    """The speaker label of a two-cell row ("Interviewer" | "How did it start?"), else None."""
    filled = [c for c in cells if c]
    if len(filled) != 2 or len(filled[0]) > 40:
        return None
    label = filled[0].rstrip(":").strip()
    m = SPEAKER_RE.match(f"{label}: x")
    return label if m and m.group("label") == label else None


def _table_lines(rows: list[list[str]]) -> list[str]:
    """A table's rows as lines: "Label: words" when every row is a two-cell speaker row and some
    label recurs (a transcript laid out as a table), else the cells joined by " | "."""
    rows = [r for r in rows if any(r)]
    labels = [_label(r) for r in rows]
    if rows and all(labels) and len(set(labels)) < len(labels):
        return [f"{label}: {[c for c in r if c][1]}" for label, r in zip(labels, rows, strict=True)]
    return [" | ".join(r) for r in rows]


def _commented_words(body: Any) -> dict[str, str]:
    """{comment id: the words between its commentRangeStart and commentRangeEnd}."""
    from docx.oxml.ns import qn

    start, end, text = qn("w:commentRangeStart"), qn("w:commentRangeEnd"), qn("w:t")
    open_ids: list[str] = []
    words: dict[str, list[str]] = {}
    for el in body.iter(start, end, text):
        if el.tag == start:
            cid = el.get(qn("w:id"))
            open_ids.append(cid)
            words.setdefault(cid, [])
        elif el.tag == end:
            cid = el.get(qn("w:id"))
            if cid in open_ids:
                open_ids.remove(cid)
        else:
            for cid in open_ids:
                words[cid].append(el.text or "")
    return {cid: " ".join("".join(parts).split()) for cid, parts in words.items()}


def read_docx(data: bytes, path: Path, did: str) -> Document:
    import zipfile

    import docx  # python-docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise MalformedFile(path, f"is not a valid .docx file ({exc.__class__.__name__})") from None
    lines: list[str] = []
    anchors: list[Anchor] = []
    pos = 0

    def add(line: str, part: str | None) -> None:
        nonlocal pos
        if part is not None:
            anchors.append(Anchor(pos, pos + len(line), part=part))
        lines.append(line)
        pos += len(line) + 1

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for line in _table_lines([_cells(row) for row in block.rows]):
                add(line, "table")
        else:
            add(block.text, None)
    comments = [c for c in document.comments if c.text.strip()]
    if comments:
        quoted = _commented_words(document.element.body)
        add("", None)
        add("Comments", "comment")
        for n, c in enumerate(comments, start=1):
            on = quoted.get(str(c.comment_id), "")
            if len(on) > _QUOTE_CHARS:
                on = on[:_QUOTE_CHARS - 1].rstrip() + "…"
            who = ", ".join(x for x in (f"Comment {n}", " ".join((c.author or "").split()), f"on “{on}”" if on else "") if x)
            add(f"[{who}] {' '.join(c.text.split())}", "comment")
    text = "\n".join(lines)
    body = text[:comments_start(tuple(anchors), len(text))]  # comments say nothing about turns
    return Document(did, text, str(path), "docx", looks_like_transcript(body), anchors=tuple(anchors))


def read_pdf(data: bytes, path: Path, did: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise MalformedFile(path, "is password-protected; save an unprotected copy and upload that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except MalformedFile:
        raise
    except (PyPdfError, DependencyError, ValueError, KeyError, TypeError, OSError) as exc:  # DependencyError: an encryption it cannot open
        raise MalformedFile(path, f"is not a readable PDF ({exc.__class__.__name__}: {exc})") from None
    parts: list[str] = []
    anchors: list[Anchor] = []
    pos = 0
    for n, page in enumerate(pages, start=1):
        page = page.replace("\x00", "")  # a font without a usable map yields NULs (PostgreSQL refuses them in text)
        page = "\n".join(line.rstrip() for line in page.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip("\n")
        if not page.strip():
            continue
        if parts:
            pos += 2  # the blank line between pages
        anchors.append(Anchor(pos, pos + len(page), page=n))
        parts.append(page)
        pos += len(page)
    text = "\n\n".join(parts)
    if not text.strip():
        raise EmptyFile(path, "has no text layer (a scanned PDF?); run OCR on it first (e.g. ocrmypdf) and upload the result")
    return Document(did, text, str(path), "pdf", looks_like_transcript(text), anchors=tuple(anchors))
