"""Where a run's records go: one `ChunkSink` per output format, chosen once per run.

JSONL (`--format jsonl`, the default) appends to four files in the run folder:
    documents.jsonl    every document's stored text (offsets refer to it)
    segments.jsonl     one line per segment (index_id = line number = faiss id)
    suggestions.jsonl  one line per proposed code, with score and evidence
    embeddings.f32     float32 (n_segments, dim) row-major, row i = index_id i
and, when the run finishes, suggestions.csv (the same suggestions, flat). After each chunk the
appended files are fsynced, then run.json records their byte sizes atomically; opening the sink
truncates each file to the recorded size, so a run killed at any point resumes from its last
checkpoint and nothing is written twice. Chunks are written in order.

Parquet (`--format parquet`, and always with `--engine ray`) writes one file per chunk, in any order:
    documents/part-00000.parquet    the documents first read in that chunk (full text)
    suggestions/part-00000.parquet  one row per proposed code (the CSV columns and provenance)
    embeddings/part-00000.npy       float32 (rows, dim), row i = index id k * chunk_size + i
    segments/part-00000.parquet     the chunk's segments; written last, so it marks the chunk done
Every file is written to a temporary name and renamed, so a chunk is either whole or absent, and
a chunk is done when its segments and embeddings files exist. The Ray driver also writes each
chunk still to code as `_pending/part-00000.parquet` (its segments); a worker removes it when done.

Invariants: a sink never writes run.json's key or status (the run does); both sinks give the same
per-code counts for the same suggestions; this module imports no database code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from models.artifacts import atomic_write_text
from models.base import Document, LoupeError
from service.batch.chunks import CodedChunk
from service.batch.records import CodeCounts, count_codes, document_record, iter_jsonl, write_suggestions_csv

RUN_FILE = "run.json"


class RunConflict(LoupeError):
    """The output folder holds a different run."""


@dataclass
class Checkpoint:
    """run.json: what was run (key, format) and how far it got (done, sizes, status)."""

    path: Path
    state: dict[str, Any]

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.state, indent=2))


class ChunkSink(Protocol):
    """What a run writes per chunk, and reads back to finish (the index, the summary)."""

    format: ClassVar[str]  # the --format name
    chunked: ClassVar[bool]  # one set of files per chunk: the layout depends on the chunk size

    def clear(self) -> None:
        """Remove this format's outputs from the run folder (a fresh run)."""
        ...

    def open(self, checkpoint: Checkpoint) -> None:
        """Bring the files back to the checkpoint and keep it for per-chunk updates. Raises RunConflict."""
        ...

    def segments_done(self, n_chunks: int, chunk_size: int, total: int) -> int:
        """How many of the run's segments are written already (by an earlier, interrupted run)."""
        ...

    def has_chunk(self, k: int, first: int, n: int) -> bool:
        """Chunk k (segments first .. first + n - 1) is written already, so a resumed run skips it."""
        ...

    def write_chunk(self, k: int, docs: Sequence[Document], coded: CodedChunk | None) -> None:
        """The documents first read in chunk k and the chunk's coded segments (None: it has none)."""
        ...

    def finish(self, n_chunks: int) -> tuple[CodeCounts, int]:
        """Check every chunk is written and write what derives from them (JSONL: suggestions.csv);
        returns the per-code counts and the number of suggestions. Raises LoupeError if chunks are missing."""
        ...

    def vector_blocks(self, n: int, dim: int, n_chunks: int) -> Iterator[np.ndarray]:
        """All n embeddings in index-id order, block by block (for the index build)."""
        ...


# -- JSONL -----------------------------------------------------------------------------------------
def _fsync_append(path: Path, data: bytes) -> None:
    if not data:
        return
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _lines(records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


class JsonlSink:
    """Appends each chunk to the four files, fsynced, then checkpoints their sizes in run.json."""

    format: ClassVar[str] = "jsonl"
    chunked: ClassVar[bool] = False
    FILES: ClassVar[tuple[str, ...]] = ("documents.jsonl", "segments.jsonl", "suggestions.jsonl", "embeddings.f32")

    def __init__(self, out: Path) -> None:
        self.out = out
        self.checkpoint: Checkpoint | None = None

    def clear(self) -> None:
        for name in (*self.FILES, "suggestions.csv"):
            (self.out / name).unlink(missing_ok=True)

    def open(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        for name in self.FILES:
            path = self.out / name
            size = checkpoint.state["sizes"].get(name, 0)
            if not path.exists():
                if size:
                    raise RunConflict(f"{path} is missing; re-run with --overwrite")
                path.touch()
            elif path.stat().st_size != size:
                with open(path, "r+b") as f:  # drop whatever was written after the last checkpoint
                    f.truncate(size)

    def _opened(self) -> Checkpoint:
        if self.checkpoint is None:
            raise RuntimeError("JsonlSink.open(checkpoint) first")
        return self.checkpoint

    def segments_done(self, n_chunks: int, chunk_size: int, total: int) -> int:
        return int(self._opened().state["done"])

    def has_chunk(self, k: int, first: int, n: int) -> bool:
        return first + n <= int(self._opened().state["done"])

    def write_chunk(self, k: int, docs: Sequence[Document], coded: CodedChunk | None) -> None:
        checkpoint = self._opened()
        state = checkpoint.state
        _fsync_append(self.out / "documents.jsonl", _lines([document_record(d) for d in docs]))
        if coded is not None:
            _fsync_append(self.out / "segments.jsonl", _lines(coded.segments))
            _fsync_append(self.out / "suggestions.jsonl", _lines(coded.suggestions))
            _fsync_append(self.out / "embeddings.f32", coded.vectors.tobytes())
            state["done"] += len(coded.segments)
        state["sizes"] = {name: (self.out / name).stat().st_size for name in self.FILES}
        checkpoint.save()

    def finish(self, n_chunks: int) -> tuple[CodeCounts, int]:
        jsonl = self.out / "suggestions.jsonl"
        n = write_suggestions_csv(jsonl, self.out / "suggestions.csv")
        counts, _ = count_codes((r["code"], r["document"], r["score"]) for r in iter_jsonl(jsonl))
        return counts, n

    def vector_blocks(self, n: int, dim: int, n_chunks: int, rows: int = 65_536) -> Iterator[np.ndarray]:
        """embeddings.f32 in pieces (read, not memory-mapped, so it never counts towards resident memory)."""
        with open(self.out / "embeddings.f32", "rb") as f:
            for lo in range(0, n, rows):
                m = min(rows, n - lo)
                yield np.frombuffer(f.read(m * dim * 4), dtype=np.float32).reshape(m, dim)


# -- Parquet ---------------------------------------------------------------------------------------
PARTS = ("documents", "suggestions", "embeddings", "segments")


def _schemas() -> dict[str, Any]:  # pyarrow schemas by part; pyarrow has no stubs
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    return {
        "documents": pa.schema([("id", s), ("source", s), ("format", s), ("is_transcript", pa.bool_()),
                                ("metadata", pa.map_(s, s)), ("text", s)]),
        "segments": pa.schema([("index_id", i), ("id", s), ("document", s), ("ordinal", i), ("start", i), ("end", i),
                               ("speaker", s), ("role", s), ("text", s), ("sentences", pa.list_(pa.list_(i))), ("coded", pa.bool_()),
                               ("page", i), ("start_s", f), ("end_s", f)]),
        "suggestions": pa.schema([
            ("segment_id", s), ("index_id", i), ("document", s), ("start", i), ("end", i), ("speaker", s),
            ("text", s), ("code", s), ("code_name", s), ("score", f), ("evidence_sentence", s),
            ("evidence_start", i), ("evidence_end", i), ("evidence_matched", s), ("evidence_kind", s),
            ("evidence_similarity", f), ("model", s), ("codebook_name", s), ("codebook_version", s),
            ("codebook_fingerprint", s),
        ]),
    }


def flat_suggestion(rec: dict[str, Any]) -> dict[str, Any]:
    """A suggestions.jsonl record as one flat Parquet row."""
    ev, cb = rec["evidence"], rec["codebook"]
    row = {k: rec[k] for k in ("segment_id", "index_id", "document", "start", "end", "speaker", "text", "code",
                               "code_name", "score", "model")}
    row.update({f"evidence_{k}": ev[k] for k in ("sentence", "start", "end", "matched", "similarity")})
    row["evidence_kind"] = ev["matched_kind"]
    row.update({"codebook_name": cb["name"], "codebook_version": str(cb["version"]), "codebook_fingerprint": cb["fingerprint"]})
    return row


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def _write_table(path: Path, kind: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schemas()[kind])
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


class ParquetSink:
    """One set of part files per chunk, each renamed into place whole; the segments file goes last."""

    format: ClassVar[str] = "parquet"
    chunked: ClassVar[bool] = True

    def __init__(self, out: Path) -> None:
        self.out = out

    def part_path(self, kind: str, k: int) -> Path:
        return self.out / kind / f"part-{k:05d}.{'npy' if kind == 'embeddings' else 'parquet'}"

    def clear(self) -> None:
        for kind in (*PARTS, "_pending"):
            folder = self.out / kind
            if folder.is_dir():
                for f in folder.iterdir():
                    f.unlink()

    def open(self, checkpoint: Checkpoint) -> None:
        """Nothing to repair: a part file is whole or absent."""

    def chunk_done(self, k: int) -> bool:
        return self.part_path("segments", k).exists() and self.part_path("embeddings", k).exists()

    def segments_done(self, n_chunks: int, chunk_size: int, total: int) -> int:
        return sum(min(chunk_size, total - k * chunk_size) for k in range(n_chunks) if self.chunk_done(k))

    def has_chunk(self, k: int, first: int, n: int) -> bool:
        return n > 0 and self.chunk_done(k)

    def write_chunk(self, k: int, docs: Sequence[Document], coded: CodedChunk | None) -> None:
        self.write_documents(k, docs)
        if coded is not None:
            self.write_coded(k, coded)

    def write_documents(self, k: int, docs: Sequence[Document]) -> None:
        """documents/part-k.parquet: the documents first read in chunk k."""
        _write_table(self.part_path("documents", k), "documents", [document_record(d) for d in docs])

    def write_coded(self, k: int, coded: CodedChunk) -> None:
        """Suggestions, then embeddings, then segments (the marker that chunk k is done)."""
        _write_table(self.part_path("suggestions", k), "suggestions", [flat_suggestion(r) for r in coded.suggestions])

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a path
                np.save(f, coded.vectors)

        _atomic(self.part_path("embeddings", k), save)
        _write_table(self.part_path("segments", k), "segments", coded.segments)

    def write_pending(self, k: int, segments: list[dict[str, Any]]) -> None:
        """_pending/part-k.parquet: chunk k's segment records, for a Ray worker to code."""
        _write_table(self.part_path("_pending", k), "segments", segments)

    def read_pending(self, k: int) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = pq.read_table(self.part_path("_pending", k)).to_pylist()
        return rows

    def drop_pending(self, k: int) -> None:
        self.part_path("_pending", k).unlink(missing_ok=True)

    def segments_in(self, k: int) -> int:
        """The number of segments chunk k wrote."""
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(self.part_path("segments", k)).metadata.num_rows)

    def finish(self, n_chunks: int) -> tuple[CodeCounts, int]:
        import pyarrow.parquet as pq

        missing = [k for k in range(n_chunks) if not self.chunk_done(k)]
        if missing:
            raise LoupeError(f"{len(missing)} chunks are not coded yet (first: {missing[0]}); run the command again to finish them")

        def rows() -> Iterator[tuple[str, str, float]]:
            for k in range(n_chunks):
                t = pq.read_table(self.part_path("suggestions", k), columns=["code", "document", "score"]).to_pydict()
                yield from zip(t["code"], t["document"], t["score"], strict=True)

        return count_codes(rows())

    def vector_blocks(self, n: int, dim: int, n_chunks: int) -> Iterator[np.ndarray]:
        for k in range(n_chunks):
            yield np.load(self.part_path("embeddings", k))


SINKS: dict[str, type[JsonlSink] | type[ParquetSink]] = {"jsonl": JsonlSink, "parquet": ParquetSink}


def sink_for(output_format: str, out: Path) -> ChunkSink:
    """The sink that writes `output_format` into the run folder `out`."""
    return SINKS[output_format](out)
