"""Collect input files, read them into Documents and segment them, with a policy for bad files.

Directories are walked recursively in sorted order (hidden files skipped); a document's id is its
path relative to the directory given (or its file name for a file given directly), so ids are
stable across runs and machines.

Invariants: no two inputs share a document id; the scan and every later stream read the same
files in the same order, so segment n is the same segment in every pass; a bad file is skipped
(and reported) or raises as a whole, never half-kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from models.base import Document, LoupeError, Segment
from models.text.readers import SUPPORTED_SUFFIXES, ReadError, iter_path, read_path
from models.text.segment import (
    SegmentationConfig,
    TokenCounter,
    approx_tokens,
    segment_document,
)

OnError = Literal["skip", "fail"]
DEFAULT_SEGMENTATION = SegmentationConfig()  # frozen: one shared default


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
    speaker_column: str | None = None  # .csv/.jsonl: who wrote each row (the segments' speaker)
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


@dataclass
class Scan:
    """What a first, streaming pass over the inputs found: nothing but counts is kept in memory."""

    files: list[tuple[Path, str]]  # the readable files, in order, with their document ids
    skipped: list[Skipped]
    documents: int
    segments: int
    fingerprint: str  # sha256 over file ids and contents
    # The documents the scan segmented first, with their segments, kept (up to scan_inputs'
    # `keep_segments`) so that the coding pass does not segment them again: head[i] holds the
    # first documents of files[i]; complete[i] says whether that is the whole file.
    head: list[list[tuple[Document, list[Segment]]]] = field(default_factory=list)
    complete: list[bool] = field(default_factory=list)
    made_with: tuple[object, ...] = ()  # (read, segmentation, count_tokens) the head was segmented with


def scan_inputs(
    inputs: list[Path],
    *,
    read: ReadOptions = ReadOptions(),
    segmentation: SegmentationConfig = DEFAULT_SEGMENTATION,
    count_tokens: TokenCounter = approx_tokens,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_segments: int = 0,
) -> Scan:
    """Read and segment every input once, keeping only counts: finds the bad files before any work
    starts (so a file failing half-way never leaves half its segments coded), the totals that
    progress and ETA need, and the corpus fingerprint. Memory stays flat whatever the corpus size,
    but for the first documents, up to `keep_segments` segments, kept with their segments for the
    coding pass (Scan.head): a corpus that small is segmented once, not twice.
    progress(documents, segments) is called every 2,000 documents and at the end."""
    files, skipped = collect_files(inputs)
    good: list[tuple[Path, str]] = []
    head: list[list[tuple[Document, list[Segment]]]] = []
    complete: list[bool] = []
    n_docs = n_segs = 0
    digest = hashlib.sha256()
    for path, did in files:
        if limit is not None and n_segs >= limit:
            break
        d0, s0 = n_docs, n_segs
        kept: list[tuple[Document, list[Segment]]] = []
        whole = True
        try:
            for doc in iter_path(path, doc_id=did, text_column=read.text_column, id_column=read.id_column, speaker_column=read.speaker_column,
                                 encoding=read.encoding):
                if limit is not None and n_segs >= limit:
                    break
                n_docs += 1
                segs = segment_document(doc, segmentation, count_tokens)
                if whole and n_segs < keep_segments:
                    kept.append((doc, segs))
                else:
                    whole = False
                n_segs += len(segs)
                if progress and n_docs % 2000 == 0:
                    progress(n_docs, n_segs)
        except ReadError as exc:
            if read.on_error == "fail":
                raise InputError(f"{exc} (use --on-error skip to skip bad files)") from None
            skipped.append(Skipped(str(path), exc.reason))
            n_docs, n_segs = d0, s0
            continue
        good.append((path, did))
        head.append(kept)
        complete.append(whole)  # a file cut short by `limit` is never read past it either
        _digest_file(digest, path, did)
    if not n_docs:
        raise InputError(_nothing_readable(skipped))
    if limit is not None:
        n_segs = min(n_segs, limit)
    if progress:
        progress(n_docs, n_segs)
    return Scan(files=good, skipped=skipped, documents=n_docs, segments=n_segs, fingerprint=digest.hexdigest()[:16],
                head=head, complete=complete, made_with=(read, segmentation, count_tokens))


def stream_corpus(
    scan: Scan,
    *,
    read: ReadOptions = ReadOptions(),
    segmentation: SegmentationConfig = DEFAULT_SEGMENTATION,
    count_tokens: TokenCounter = approx_tokens,
    limit: int | None = None,
) -> Iterator[tuple[Document, list[Segment]]]:
    """Each document of a scan with its segments, read again lazily in the same order (so segment
    n is the same segment in every pass). A file that changed since the scan raises InputError.
    The documents the scan kept (Scan.head) are not read or segmented again, where the scan read
    and segmented them as asked here."""
    n = 0
    reuse = scan.made_with == (read, segmentation, count_tokens)
    for i, (path, did) in enumerate(scan.files):
        kept = scan.head[i] if reuse and i < len(scan.head) else []
        for doc, segs in kept:
            if limit is not None and n >= limit:
                return
            if limit is not None:
                segs = segs[: limit - n]
            n += len(segs)
            yield doc, segs
        if kept and scan.complete[i]:
            continue
        try:
            for j, doc in enumerate(iter_path(path, doc_id=did, text_column=read.text_column, id_column=read.id_column,
                                              speaker_column=read.speaker_column, encoding=read.encoding)):
                if j < len(kept):
                    continue  # yielded from the scan's head
                if limit is not None and n >= limit:
                    return
                segs = segment_document(doc, segmentation, count_tokens)
                if limit is not None:
                    segs = segs[: limit - n]
                n += len(segs)
                yield doc, segs
        except ReadError as exc:
            raise InputError(f"{exc} (the file changed while it was being coded)") from None


def load_corpus(
    inputs: list[Path],
    *,
    read: ReadOptions = ReadOptions(),
    segmentation: SegmentationConfig = DEFAULT_SEGMENTATION,
    count_tokens: TokenCounter = approx_tokens,
    limit: int | None = None,
) -> Corpus:
    """Read and segment the inputs into memory, in one pass (for corpora that fit in memory; batch
    coding streams instead). Bad files are skipped (and reported) or raise, per read.on_error; a
    file is read whole before any of it is kept. limit: keep only the first `limit` segments."""
    files, skipped = collect_files(inputs)
    documents: list[Document] = []
    segments: list[Segment] = []
    digest = hashlib.sha256()
    for path, did in files:
        if limit is not None and len(segments) >= limit:
            break
        try:
            docs = read_path(path, doc_id=did, text_column=read.text_column, id_column=read.id_column, speaker_column=read.speaker_column,
                             encoding=read.encoding)
        except ReadError as exc:
            if read.on_error == "fail":
                raise InputError(f"{exc} (use --on-error skip to skip bad files)") from None
            skipped.append(Skipped(str(path), exc.reason))
            continue
        _digest_file(digest, path, did)
        for doc in docs:
            if limit is not None and len(segments) >= limit:
                break
            documents.append(doc)
            segments.extend(segment_document(doc, segmentation, count_tokens))
    if not documents:
        raise InputError(_nothing_readable(skipped))
    if limit is not None:
        segments = segments[:limit]
    return Corpus(documents=documents, segments=segments, skipped=skipped, fingerprint=digest.hexdigest()[:16])


def _digest_file(digest, path: Path, did: str) -> None:
    digest.update(did.encode() + b"\0")
    with open(path, "rb") as f:
        digest.update(hashlib.file_digest(f, "sha256").digest() + b"\0")


def _nothing_readable(skipped: list[Skipped]) -> str:
    reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
    return "no readable documents in the inputs" + (f" ({reasons})" if reasons else "")
