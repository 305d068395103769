"""The real default embedder: shapes, normalisation, sentence pooling and the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.base import Span
from models.embedders.cache import EmbeddingCache
from models.embedders.sentence_transformers import (
    ModelNotFound,
    SentenceTransformerEmbedder,
)


def test_default_model_loads_offline(embedder):
    assert embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder.dim == 384 and embedder.device == "cpu" and embedder.precision == "fp32"


def test_vectors_are_normalised_float32_and_match_plain_encode(embedder):
    texts = ["We trust the council.", "A much longer passage about funding, contracts and the power they give."]
    v = embedder.encode(texts)
    assert v.dtype == np.float32 and v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v, embedder.encode_raw(texts), atol=1e-5)


def test_sentence_vectors_pool_the_right_tokens(embedder):
    text = ("Formally, members and the director decide. It is a hierarchy. But the partnership coordinator sits "
            "between everyone and quietly makes the joins.")
    parts = ["Formally, members and the director decide.", "It is a hierarchy.", "But the partnership"]
    starts = [text.index(p) for p in parts]
    spans = [Span(starts[0], starts[1] - 1), Span(starts[1], starts[2] - 1), Span(starts[2], len(text))]
    short = "Hi."
    # batch with a shorter text: padding must not break pooling
    enc = embedder.encode_segments([text, short], [spans, [Span(0, 3)]])
    pooled = enc.sentence_vectors[0]
    assert pooled.shape == (3, 384)
    alone = embedder.encode([text[s.start:s.end] for s in spans])
    agreement = (pooled * alone).sum(axis=1)
    assert (agreement > 0.7).all(), agreement
    # each pooled sentence is closest to its own stand-alone encoding
    assert (np.argmax(pooled @ alone.T, axis=1) == [0, 1, 2]).all()


def test_cache_means_no_re_encoding(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    e = SentenceTransformerEmbedder(cache=cache, threads=2)
    texts = ["one sentence here.", "two. sentences here."]
    spans = [[Span(0, 18)], [Span(0, 4), Span(5, 20)]]
    first = e.encode_segments(texts, spans)
    assert e.stats == {"encoded": 2, "cache_hits": 0}
    again = SentenceTransformerEmbedder(cache=EmbeddingCache(tmp_path / "c.sqlite"), threads=2)
    second = again.encode_segments(texts, spans)
    assert again.stats == {"encoded": 0, "cache_hits": 2}
    assert np.array_equal(first.vectors, second.vectors)
    assert all(np.array_equal(a, b) for a, b in zip(first.sentence_vectors, second.sentence_vectors, strict=False))
    # different sentence spans for the same text are a miss, not a wrong answer
    again.encode_segments([texts[1]], [[Span(0, 20)]])
    assert again.stats["encoded"] == 1


def test_unknown_model_fails_clearly(tmp_path):
    with pytest.raises(ModelNotFound, match="Nothing is downloaded at run time"):
        SentenceTransformerEmbedder("no-such-org/no-such-model")


def test_cuda_request_without_gpu_is_refused():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(Exception, match="no CUDA GPU"):
        SentenceTransformerEmbedder(device="cuda")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A tiny BERT sentence-transformer built locally from a config (random weights, real tokenizer)."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from models.embedders.sentence_transformers import default_model_path

    out = tmp_path_factory.mktemp("tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(out / "bert")
    tokenizer.save_pretrained(out / "bert")
    word = models.Transformer(str(out / "bert"), max_seq_length=64)
    pool = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool]).save(str(out / "st"))
    return out / "st"


def test_any_local_model_path_loads_and_is_kept_apart(tiny_model_dir, tmp_path):
    from models.index.faiss_index import FaissIndex

    e = SentenceTransformerEmbedder(tiny_model_dir, cache=EmbeddingCache(tmp_path / "c.sqlite"), threads=2)
    assert e.dim == 32 and e.model_id == "st" and e.fingerprint.startswith("st@")
    text = "First sentence here. And a second one."
    enc = e.encode_segments([text], [[Span(0, 20), Span(21, len(text))]])
    assert enc.vectors.shape == (1, 32) and enc.sentence_vectors[0].shape == (2, 32)
    assert np.allclose(np.linalg.norm(enc.vectors, axis=1), 1, atol=1e-5)
    # the cache keys on the model: the default model does not reuse the tiny model's vectors
    default = SentenceTransformerEmbedder(cache=EmbeddingCache(tmp_path / "c.sqlite"), threads=2)
    default.encode_segments([text], [[Span(0, 20), Span(21, len(text))]])
    assert default.stats["encoded"] == 1
    ix = FaissIndex(e.dim, model=e.fingerprint)
    ix.add([0], enc.vectors)
    ix.save(tmp_path / "ix")
    with pytest.raises(Exception, match="built with embedding model 'st@"):
        FaissIndex.load(tmp_path / "ix", model=default.fingerprint)


def _memo_key():
    import torch

    from models.embedders import precision as check
    from models.embedders.sentence_transformers import _fingerprint, default_model_path

    return check.memo_key(f"sentence-transformers/all-MiniLM-L6-v2@{_fingerprint(default_model_path())}", torch.get_num_threads())


def test_fast_precision_is_measured_once_then_remembered(tmp_path, embedder):
    """precision "fast" on a CPU: bf16 only if it matches fp32 (cosine >= 0.99 on every check passage)
    and is faster here; the verdict is written down and reused."""
    from models.embedders import precision as check

    memo = tmp_path / "precision.json"
    fast = SentenceTransformerEmbedder(precision="fast", precision_memo=memo, threads=2)
    record = json.loads(memo.read_text())[_memo_key()]
    assert fast.precision == record["precision"] and fast.precision_check == record
    if check.cpu_has_native_bf16():
        assert record["texts"] >= 100 and 0 < record["min_cosine"] <= record["mean_cosine"] <= 1
        assert (record["precision"] == "bf16") == (record["min_cosine"] >= 0.99 and record["speedup"] >= 1.2)
    else:
        assert record["precision"] == "fp32" and "no native bf16" in record["reason"]
    texts = check.check_texts()[:40]
    cos = np.sum(fast.encode(texts) * embedder.encode(texts), axis=1)
    assert cos.min() >= 0.99
    assert fast.fingerprint == embedder.fingerprint + ("+bf16" if fast.precision == "bf16" else "")


@pytest.mark.parametrize("remembered", ["fp32", "bf16"])
def test_fast_precision_follows_the_remembered_verdict(tmp_path, remembered, embedder):
    memo = tmp_path / "precision.json"
    memo.write_text(json.dumps({_memo_key(): {"precision": remembered, "reason": "set by the test"}}))
    fast = SentenceTransformerEmbedder(precision="fast", precision_memo=memo, threads=2)
    assert fast.precision == remembered and fast.precision_check["reason"] == "set by the test"
    assert fast.fingerprint.endswith("+bf16") == (remembered == "bf16")
    assert json.loads(memo.read_text()) == {_memo_key(): {"precision": remembered, "reason": "set by the test"}}  # not re-measured
