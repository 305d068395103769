"""The batch loop's overlap (read ahead, write behind) changes no output byte, and errors still surface."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from models.classifiers.zero_shot import ZeroShotClassifier
from service.batch.inputs import ReadOptions
from service.batch.overlap import WriteBehind, prefetched
from service.batch.run import BatchOptions, run_batch
from tests.conftest import SAMPLE

READ = ReadOptions(text_column="response")
FILES = ("documents.jsonl", "segments.jsonl", "suggestions.jsonl", "embeddings.f32", "suggestions.csv")


def _run(out, embedder, seed, **options):
    opts = BatchOptions(inputs=[SAMPLE], out_dir=out, read=READ, skip_speakers=("Interviewer",), chunk_size=16, **options)
    return run_batch(opts, codebook=seed, embedder=embedder, classifier=ZeroShotClassifier(seed, embedder))


def test_overlap_writes_the_same_bytes_as_the_inline_loop(tmp_path, embedder, seed):
    cache, embedder.cache = embedder.cache, None  # everything encoded: the tokenised-ahead batches are used
    try:
        inline = _run(tmp_path / "inline", embedder, seed, overlap=False)
        overlapped = _run(tmp_path / "overlap", embedder, seed, overlap=True, read_ahead=3)
    finally:
        embedder.cache = cache
    assert inline.segments == overlapped.segments > 100 and inline.suggestions == overlapped.suggestions > 0
    for name in FILES:
        assert (tmp_path / "inline" / name).read_bytes() == (tmp_path / "overlap" / name).read_bytes(), name
    assert (tmp_path / "inline" / "index" / "index.faiss").read_bytes() == (tmp_path / "overlap" / "index" / "index.faiss").read_bytes()


def test_prepared_batches_encode_exactly_as_unprepared(embedder):
    texts = ["One short line.", "A longer passage. It has two sentences, so it is pooled.", "x" * 40, "Third."]
    from models.base import Span

    sentences = [(Span(0, 15),), (Span(0, 18), Span(19, 56)), (), (Span(0, 6),)]
    cache, embedder.cache = embedder.cache, None
    try:
        plain = embedder.encode_segments(texts, sentences)
        ahead = embedder.encode_segments(texts, sentences, prepared=embedder.prepare(texts, sentences))
    finally:
        embedder.cache = cache
    assert np.array_equal(plain.vectors, ahead.vectors)
    assert all(np.array_equal(a, b) for a, b in zip(plain.sentence_vectors, ahead.sentence_vectors, strict=True))
    assert ahead.sentence_vectors[1].shape == (2, embedder.dim)
    with pytest.raises(ValueError, match="another list"):
        embedder.encode_segments(texts[:2], sentences[:2], prepared=embedder.prepare(texts, sentences))


def test_prefetched_keeps_order_bounds_read_ahead_and_raises_the_readers_error():
    produced: list[int] = []

    def source():
        for i in range(10):
            produced.append(i)
            yield i
        raise OSError("disk gone")

    got = []
    items = prefetched(source(), depth=2)
    with pytest.raises(OSError, match="disk gone"):
        for i in items:
            time.sleep(0.01)
            assert len(produced) <= i + 1 + 2 + 1  # at most depth queued, plus the one being put
            got.append(i)
    assert got == list(range(10))


def test_prefetched_stops_its_reader_when_the_consumer_leaves():
    stopped = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            stopped.set()

    items = prefetched(endless(), depth=1)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert stopped.wait(2)


def test_write_behind_runs_in_order_and_raises_a_failed_write():
    log: list[int] = []
    with WriteBehind() as writer:
        for i in range(5):
            writer.submit(lambda i=i: (time.sleep(0.005), log.append(i)))
    assert log == [0, 1, 2, 3, 4]

    def fail() -> None:
        raise KeyboardInterrupt

    writer = WriteBehind()
    writer.submit(fail)
    with pytest.raises(KeyboardInterrupt):
        writer.submit(lambda: log.append(99))  # waits for the failed write first
    writer.__exit__(None, None, None)
    assert 99 not in log


def test_overlap_by_default_only_where_a_core_is_free(embedder):
    import os

    import torch

    from service.batch.run import spare_core

    class OnGpu:
        device = "cuda:0"

    assert spare_core(OnGpu())  # type: ignore[arg-type]  # only .device is read
    assert spare_core(embedder) == (torch.get_num_threads() < (os.cpu_count() or 1))
