"""Collect input files, read them into Documents and segment them, with a policy for bad files.

Directories are walked recursively in sorted order (hidden files skipped); a document's id is its
path relative to the directory given (or its file name for a file given directly), so ids are
stable across runs and machines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from models.base import Document, LoupeError, Segment
from models.text.readers import SUPPORTED_SUFFIXES, ReadError, read_path
from models.text.segment import (
    SegmentationConfig,
    TokenCounter,
    approx_tokens,
    segment_document,
)

OnError = Literal["skip", "fail"]


class InputError(LoupeError):
    """The inputs as a whole cannot be used (nothing found, duplicate ids, a bad file with --on-error fail)."""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Corpus:
    documents: list[Document]
    segments: list[Segment]
    skipped: list[Skipped] = field(default_factory=list)
    fingerprint: str = ""  # sha256 over file ids and contents


@dataclass(frozen=True)
class ReadOptions:
    text_column: str = "text"
    id_column: str | None = "id"
    encoding: str | None = None
    on_error: OnError = "skip"


def collect_files(inputs: list[Path]) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """(path, document id) for each input file, and the files skipped as unsupported."""
    files: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    for root in inputs:
        root = Path(root)
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        if root.is_file():
            files.append((root, root.name))
            continue
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            if p.is_dir() or any(part.startswith(".") for part in rel.parts):
                continue
            if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(str(p), f"unsupported file type {p.suffix or '(none)'}"))
                continue
            files.append((p, rel.as_posix()))
    seen: dict[str, Path] = {}
    for p, did in files:
        if did in seen:
            raise InputError(f"two inputs have the same document id {did!r}: {seen[did]} and {p}; pass their common folder instead")
        seen[did] = p
    return files, skipped


def load_corpus(
    inputs: list[Path],
    *,
    read: ReadOptions = ReadOptions(),
    segmentation: SegmentationConfig = SegmentationConfig(),
    count_tokens: TokenCounter = approx_tokens,
    limit: int | None = None,
) -> Corpus:
    """Read and segment the inputs. Bad files are skipped (and reported) or raise, per read.on_error.

    limit: stop reading once this many segments exist, and keep only the first `limit`.
    """
    files, skipped = collect_files(inputs)
    documents: list[Document] = []
    segments: list[Segment] = []
    digest = hashlib.sha256()
    for path, did in files:
        if limit is not None and len(segments) >= limit:
            break
        try:
            docs = read_path(
                path, doc_id=did, text_column=read.text_column, id_column=read.id_column, encoding=read.encoding
            )
        except ReadError as exc:
            if read.on_error == "fail":
                raise InputError(f"{exc} (use --on-error skip to skip bad files)") from None
            skipped.append(Skipped(str(path), exc.reason))
            continue
        digest.update(did.encode() + b"\0" + path.read_bytes() + b"\0")
        for doc in docs:
            if limit is not None and len(segments) >= limit:
                break
            documents.append(doc)
            segments.extend(segment_document(doc, segmentation, count_tokens))
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
        raise InputError("no readable documents in the inputs" + (f" ({reasons})" if reasons else ""))
    if limit is not None:
        segments = segments[:limit]
    return Corpus(documents=documents, segments=segments, skipped=skipped, fingerprint=digest.hexdigest()[:16])

