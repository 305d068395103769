"""Batch coding through the service layer: outputs, no re-encoding, resume without duplicates."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.classifiers.zero_shot import ZeroShotClassifier
from models.embedders.cache import EmbeddingCache
from models.embedders.sentence_transformers import SentenceTransformerEmbedder
from models.index.faiss_index import FaissIndex
from service.batch.inputs import InputError, ReadOptions
from service.batch.run import BatchOptions, RunConflict, run_batch
from tests.conftest import SAMPLE

READ = ReadOptions(text_column="response")
SKIP = ("Interviewer",)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def fresh_embedder(tmp_path):
    """A real embedder with its own persistent cache file, so encode counts start at zero."""
    return SentenceTransformerEmbedder(cache=EmbeddingCache(tmp_path / "cache.sqlite"), threads=2)


def _run(out: Path, embedder, seed, *, progress=None, chunk_size: int = 64, **options):
    opts = BatchOptions(inputs=[SAMPLE], out_dir=out, read=READ, skip_speakers=SKIP, chunk_size=chunk_size, **options)
    classifier = ZeroShotClassifier(seed, embedder)
    return run_batch(opts, codebook=seed, embedder=embedder, classifier=classifier, progress=progress)


def test_outputs_are_complete_and_consistent(tmp_path, fresh_embedder, seed):
    out = tmp_path / "run"
    result = _run(out, fresh_embedder, seed)
    docs = {d["id"]: d for d in _lines(out / "documents.jsonl")}
    segs = _lines(out / "segments.jsonl")
    sugs = _lines(out / "suggestions.jsonl")
    assert result.documents == len(docs) == 24 and result.segments == len(segs) > 100
    assert [s["index_id"] for s in segs] == list(range(len(segs)))
    for s in segs:  # offsets point into the stored document text
        assert docs[s["document"]]["text"][s["start"]:s["end"]] == s["text"]
    assert sugs and result.suggestions == len(sugs)
    for g in sugs:
        assert 0.5 <= g["score"] <= 1 and g["code"] in seed.codes
        assert docs[g["document"]]["text"][g["evidence"]["start"]:g["evidence"]["end"]] == g["evidence"]["sentence"]
        assert g["speaker"] != "Interviewer"  # interviewer turns are context, never coded
        assert g["codebook"]["fingerprint"] == seed.fingerprint and "all-MiniLM-L6-v2" in g["model"]
    with open(out / "suggestions.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(sugs) and rows[0]["segment_id"] == sugs[0]["segment_id"]
    assert set(rows[0]) >= {"segment_id", "document", "start", "end", "speaker", "text", "code", "score", "evidence_sentence"}
    summary = json.loads((out / "summary.json").read_text())
    assert sum(c["segments"] for c in summary["codes"].values()) == len(sugs)
    split = summary["timings_s"]  # the wall time by phase: every phase timed, none negative, adding up to the whole
    assert set(split) == {"scan", "encode", "propose", "finish_outputs", "index_build", "index_save", "other"}
    assert min(split.values()) >= 0 and split["encode"] > 0
    assert abs(sum(split.values()) - summary["seconds"]) < 0.01
    vectors = np.fromfile(out / "embeddings.f32", dtype=np.float32).reshape(len(segs), 384)
    index = FaissIndex.load(out / "index", model=fresh_embedder.fingerprint)
    assert len(index) == len(segs) and index.search(vectors[5:6], 1)[1][0, 0] == 5


def test_rerun_on_unchanged_corpus_encodes_nothing(tmp_path, fresh_embedder, seed):
    first = _run(tmp_path / "a", fresh_embedder, seed)
    assert first.encoded == first.segments and first.cache_hits == 0
    again_same_dir = _run(tmp_path / "a", fresh_embedder, seed)
    assert again_same_dir.encoded == 0 and again_same_dir.resumed_from == first.segments
    # a new process with the same cache file, into a new folder: all from cache
    other = SentenceTransformerEmbedder(cache=EmbeddingCache(fresh_embedder.cache.path), threads=2)
    new_dir = _run(tmp_path / "b", other, seed)
    assert new_dir.encoded == 0 and new_dir.cache_hits == new_dir.segments
    assert (tmp_path / "a" / "suggestions.jsonl").read_bytes() == (tmp_path / "b" / "suggestions.jsonl").read_bytes()


def test_interrupted_run_resumes_without_duplicates(tmp_path, fresh_embedder, seed):
    clean = _run(tmp_path / "clean", fresh_embedder, seed, chunk_size=16)
    calls = []

    def interrupt_after_two_chunks(done: int, total: int) -> None:
        calls.append(done)
        if done >= 32:
            # simulate a half-written next chunk, then Ctrl-C
            with open(tmp_path / "cut" / "segments.jsonl", "a") as f:
                f.write('{"partial": ')
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", fresh_embedder, seed, chunk_size=16, progress=interrupt_after_two_chunks)
    state = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert state["done"] == 32 and state["status"] == "running"
    resumed = _run(tmp_path / "cut", fresh_embedder, seed, chunk_size=16)
    assert resumed.resumed_from == 32 and resumed.encoded == 0  # cache still had them
    for name in ("segments.jsonl", "suggestions.jsonl", "embeddings.f32"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    ids = [s["id"] for s in _lines(tmp_path / "cut" / "segments.jsonl")]
    assert len(ids) == len(set(ids)) == clean.segments


def test_different_run_in_same_folder_is_refused(tmp_path, fresh_embedder, seed):
    _run(tmp_path / "r", fresh_embedder, seed, limit=20)
    before = (tmp_path / "r" / "segments.jsonl").read_bytes()
    with pytest.raises(RunConflict, match="different inputs.*--overwrite"):
        _run(tmp_path / "r", fresh_embedder, seed, limit=30)
    assert (tmp_path / "r" / "segments.jsonl").read_bytes() == before  # nothing lost
    result = _run(tmp_path / "r", fresh_embedder, seed, limit=30, overwrite=True)
    assert result.segments == 30


def test_a_changed_not_coded_list_is_a_different_run(tmp_path, fresh_embedder, seed, monkeypatch):
    """The seed codebook brings no not-coded list, so Loupe's shipped one is in effect: a change to
    that list changes the suggestions, so it is a different run (and a different model name), not a
    run to resume."""
    import models.codebook

    _run(tmp_path / "r", fresh_embedder, seed, limit=20)
    name = ZeroShotClassifier(seed, fresh_embedder).model_name
    shipped = models.codebook.default_not_coded()
    monkeypatch.setattr(models.codebook, "default_not_coded", lambda: shipped[:-1])
    assert ZeroShotClassifier(seed, fresh_embedder).model_name != name
    with pytest.raises(RunConflict, match="different codebook"):
        _run(tmp_path / "r", fresh_embedder, seed, limit=20)


def test_bad_files_are_skipped_or_fail(tmp_path, fresh_embedder, seed):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    (corpus / "broken.txt").write_bytes(b"\x00\x01binary")
    (corpus / "notes.pdf").write_bytes(b"%PDF")
    (corpus / "notes.rtf").write_bytes(b"{\\rtf1 notes}")
    opts = BatchOptions(inputs=[corpus], out_dir=tmp_path / "out", read=READ, limit=10)
    result = run_batch(opts, codebook=seed, embedder=fresh_embedder, classifier=ZeroShotClassifier(seed, fresh_embedder))
    reasons = {Path(s["path"]).name: s["reason"] for s in result.skipped}
    assert "binary" in reasons["broken.txt"] and "unsupported" in reasons["notes.rtf"] and "not a readable PDF" in reasons["notes.pdf"]
    strict = BatchOptions(inputs=[corpus], out_dir=tmp_path / "strict", read=ReadOptions(text_column="response", on_error="fail"))
    with pytest.raises(InputError, match="broken.txt.*binary"):
        run_batch(strict, codebook=seed, embedder=fresh_embedder, classifier=ZeroShotClassifier(seed, fresh_embedder))
    assert not (tmp_path / "strict").exists()  # failed before writing anything


def test_parquet_output_matches_jsonl_and_resumes_by_chunk(tmp_path, fresh_embedder, seed):
    """--format parquet: one file per chunk, the same records as the JSONL run; a lost chunk is
    the only one coded again on re-run."""
    import pyarrow.parquet as pq

    from service.batch.sinks import flat_suggestion

    ref = _run(tmp_path / "jsonl", fresh_embedder, seed, chunk_size=32)
    out = tmp_path / "pq"
    result = _run(out, fresh_embedder, seed, chunk_size=32, output_format="parquet")
    n_chunks = -(-ref.segments // 32)
    for kind, ext in (("segments", "parquet"), ("suggestions", "parquet"), ("embeddings", "npy")):
        assert sorted(p.name for p in (out / kind).iterdir()) == [f"part-{k:05d}.{ext}" for k in range(n_chunks)]
    assert pq.read_table(out / "segments").to_pylist() == _lines(tmp_path / "jsonl" / "segments.jsonl")
    assert pq.read_table(out / "suggestions").to_pylist() == [flat_suggestion(r) for r in _lines(tmp_path / "jsonl" / "suggestions.jsonl")]
    docs = pq.read_table(out / "documents").to_pylist()
    assert [d["id"] for d in docs] == [d["id"] for d in _lines(tmp_path / "jsonl" / "documents.jsonl")]
    vectors = np.concatenate([np.load(out / "embeddings" / f"part-{k:05d}.npy") for k in range(n_chunks)])
    assert np.array_equal(vectors, np.fromfile(tmp_path / "jsonl" / "embeddings.f32", np.float32).reshape(-1, 384))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["format"] == "parquet" and result.suggestions == ref.suggestions and summary["codes"] == json.loads(
        (tmp_path / "jsonl" / "summary.json").read_text())["codes"]
    assert len(FaissIndex.load(out / "index")) == ref.segments

    (out / "segments" / "part-00002.parquet").unlink()  # chunk 2 lost (say, a crash before its marker)
    before = fresh_embedder.stats["encoded"]
    again = _run(out, fresh_embedder, seed, chunk_size=32, output_format="parquet")
    assert again.resumed_from == ref.segments - 32
    assert fresh_embedder.stats["encoded"] == before  # re-coded from the embedding cache, nothing else touched
    assert pq.read_table(out / "segments").to_pylist() == _lines(tmp_path / "jsonl" / "segments.jsonl")


def test_large_tabular_input_is_streamed_and_counted_before_coding(tmp_path, fresh_embedder, seed):
    """Totals (for progress and ETA) come from the scan before any chunk is coded."""
    f = tmp_path / "answers.csv"
    with open(f, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "wave"])
        for i in range(600):
            w.writerow([i, f"Answer {i}: the council {'trusts' if i % 2 else 'controls'} the charity.", i % 3])
    seen = []
    opts = BatchOptions(inputs=[f], out_dir=tmp_path / "out", chunk_size=128)
    result = run_batch(opts, codebook=seed, embedder=fresh_embedder, classifier=ZeroShotClassifier(seed, fresh_embedder),
                       progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 600) and seen[-1] == (600, 600) and [d for d, _ in seen] == [0, 128, 256, 384, 512, 600]
    assert result.documents == result.segments == 600
    docs = _lines(tmp_path / "out" / "documents.jsonl")
    assert len(docs) == 600 and docs[7]["metadata"] == {"wave": "1"}
