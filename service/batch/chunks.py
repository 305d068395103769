"""The pieces both batch engines share: coding one chunk, partitioned Parquet files, the index build.

A chunk is `chunk_size` consecutive segments; chunk k holds index ids [k * chunk_size, ...). The
single-machine engine and the Ray engine call the same `code_chunk` on the same chunks with the
same model, so they write the same suggestions.

Parquet layout (`--format parquet`, and always with `--engine ray`), one file per chunk:
    documents/part-00000.parquet    the documents first read in that chunk (full text)
    suggestions/part-00000.parquet  one row per proposed code (the CSV columns and provenance)
    embeddings/part-00000.npy       float32 (rows, dim), row i = index id k * chunk_size + i
    segments/part-00000.parquet     the chunk's segments; written last, so it marks the chunk done
Every file is written to a temporary name and renamed, so a chunk is either whole or absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from models.base import CodeProposal, Document, Embedder, Encoded, Segment, Span
from models.classifiers.zero_shot import ZeroShotClassifier
from models.codebook import Codebook
from models.index.faiss_index import FaissIndex
from service.batch.records import segment_record, suggestion_record

PARTS = ("documents", "suggestions", "embeddings", "segments")


@dataclass
class CodedChunk:
    segments: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    vectors: np.ndarray  # float32 (len(segments), dim)


def code_chunk(
    chunk: Sequence[Segment],
    first_index: int,
    *,
    embedder: Embedder,
    classifier: ZeroShotClassifier,
    codebook: Codebook,
    skip_speakers: set[str],
    provenance: dict[str, Any],
) -> CodedChunk:
    """Embed and propose codes for one chunk; segments of skipped speakers are kept but get none."""
    encoded = embedder.encode_segments([s.text for s in chunk], [s.sentences for s in chunk])
    keep = [k for k, s in enumerate(chunk) if s.speaker is None or s.speaker.lower() not in skip_speakers]
    proposals: list[list[CodeProposal]] = [[] for _ in chunk]
    if keep:
        sub = Encoded(encoded.vectors[keep], [encoded.sentence_vectors[k] for k in keep])
        for k, props in zip(keep, classifier.propose([chunk[k] for k in keep], sub)):
            proposals[k] = props
    kept = set(keep)
    segs, sugs = [], []
    for k, seg in enumerate(chunk):
        segs.append(segment_record(seg, first_index + k, coded=k in kept))
        sugs.extend(suggestion_record(seg, first_index + k, p, codebook, provenance) for p in proposals[k])
    return CodedChunk(segs, sugs, np.ascontiguousarray(encoded.vectors, dtype=np.float32))


def segment_from_record(rec: dict[str, Any]) -> Segment:
    return Segment(
        id=rec["id"], document_id=rec["document"], ordinal=int(rec["ordinal"]), start=int(rec["start"]),
        end=int(rec["end"]), text=rec["text"], speaker=rec["speaker"],
        sentences=tuple(Span(int(a), int(b)) for a, b in rec["sentences"]),
    )


# -- Parquet ---------------------------------------------------------------------------------------
def _schemas():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    return {
        "documents": pa.schema([("id", s), ("source", s), ("format", s), ("is_transcript", pa.bool_()),
                                ("metadata", pa.map_(s, s)), ("text", s)]),
        "segments": pa.schema([("index_id", i), ("id", s), ("document", s), ("ordinal", i), ("start", i), ("end", i),
                               ("speaker", s), ("text", s), ("sentences", pa.list_(pa.list_(i))), ("coded", pa.bool_())]),
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


def part_path(out: Path, kind: str, k: int) -> Path:
    return out / kind / f"part-{k:05d}.{'npy' if kind == 'embeddings' else 'parquet'}"


def _atomic(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def write_table(path: Path, kind: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schemas()[kind])
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_table_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def read_table_rows_count(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def document_record(d: Document) -> dict[str, Any]:
    return {"id": d.id, "source": d.source, "format": d.format, "is_transcript": d.is_transcript,
            "metadata": d.metadata, "text": d.text}


def write_documents(out: Path, k: int, docs: Sequence[Document]) -> None:
    """documents/part-k.parquet: the documents first read in chunk k."""
    write_table(part_path(out, "documents", k), "documents", [document_record(d) for d in docs])


def write_coded_chunk(out: Path, k: int, coded: CodedChunk) -> None:
    """Suggestions, then embeddings, then segments (the marker that chunk k is done)."""
    write_table(part_path(out, "suggestions", k), "suggestions", [flat_suggestion(r) for r in coded.suggestions])
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a path
            np.save(f, coded.vectors)

    _atomic(part_path(out, "embeddings", k), save)
    write_table(part_path(out, "segments", k), "segments", coded.segments)


def chunk_done(out: Path, k: int) -> bool:
    return part_path(out, "segments", k).exists() and part_path(out, "embeddings", k).exists()


def clear_parts(out: Path) -> None:
    for kind in (*PARTS, "_pending"):
        folder = out / kind
        if folder.is_dir():
            for f in folder.iterdir():
                f.unlink()


def iter_part_vectors(out: Path, n_chunks: int) -> Iterator[np.ndarray]:
    for k in range(n_chunks):
        yield np.load(part_path(out, "embeddings", k))


def iter_file_vectors(path: Path, n: int, dim: int, rows: int = 65_536) -> Iterator[np.ndarray]:
    """embeddings.f32 in pieces (read, not memory-mapped, so it never counts towards resident memory)."""
    with open(path, "rb") as f:
        for lo in range(0, n, rows):
            m = min(rows, n - lo)
            yield np.frombuffer(f.read(m * dim * 4), dtype=np.float32).reshape(m, dim)


def build_index(out: Path, blocks, *, dim: int, n: int, model: str, ann_threshold: int) -> FaissIndex:  # type: ignore[no-untyped-def]
    """The faiss index over all n vectors, read block by block; `blocks()` yields them in id order."""
    index = FaissIndex.build(blocks, n=n, dim=dim, model=model, ann_threshold=ann_threshold)
    index.save(out / "index")
    return index


def parquet_code_counts(out: Path, n_chunks: int):  # type: ignore[no-untyped-def]
    """(code -> (segments, set of documents, score sum), suggestions) over the suggestion partitions."""
    import pyarrow.parquet as pq

    counts: dict[str, list[Any]] = {}
    total = 0
    for k in range(n_chunks):
        t = pq.read_table(part_path(out, "suggestions", k), columns=["code", "document", "score"]).to_pydict()
        total += len(t["code"])
        for code, doc, score in zip(t["code"], t["document"], t["score"]):
            c = counts.setdefault(code, [0, set(), 0.0])
            c[0] += 1
            c[1].add(doc)
            c[2] += score
    return counts, total
