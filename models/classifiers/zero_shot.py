"""Zero-shot code proposals from a codebook, with no training data.

Each code is represented by prototype passages: its name with its definition, each include
criterion, and each example passage (`kind` = definition / include / example). A segment's
similarity to a code is the best cosine between any prototype of the code and either the whole
segment or one of its sentences (so one sentence of a long turn can carry a code). Exclude
criteria pull the similarity down when they match better than the code does.

    sim'   = sim - exclude_weight * max(0, sim_exclude - sim)
    score  = sigmoid((sim' - center) / temperature)          in [0, 1]

`center` and `temperature` are set for all-MiniLM-L6-v2 (cosines of related passages ~0.5-0.7,
unrelated ~0.0-0.3); other encoders may need other values. These scores rank well but are not
calibrated probabilities: calibration needs decisions (the learned classifier does it).

Hierarchy ("leaf-first"): a parent's similarity is the best of its own and its descendants'; the
deepest codes above the threshold are proposed, and a parent only when none of its descendants is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models.base import CodeProposal, Embedder, Encoded, Evidence, Segment
from models.codebook import Codebook


@dataclass(frozen=True)
class ZeroShotConfig:
    threshold: float = 0.5
    center: float = 0.48
    temperature: float = 0.05
    exclude_weight: float = 0.5
    max_codes: int = 3  # at most this many proposals per segment


class ZeroShotClassifier:
    """Scores segments against every code of a codebook from its text alone."""

    name = "zero-shot"

    def __init__(self, codebook: Codebook, embedder: Embedder, config: ZeroShotConfig = ZeroShotConfig()) -> None:
        self.codebook = codebook
        self.config = config
        self.codes = list(codebook.codes)
        texts: list[str] = []
        kinds: list[str] = []
        owner: list[int] = []
        excl_texts: list[str] = []
        excl_owner: list[int] = []
        for c, code in enumerate(codebook):
            for text, kind in (
                [(f"{code.name}: {code.definition}", "definition")]
                + [(t, "include") for t in code.include]
                + [(t, "example") for t in code.examples]
            ):
                texts.append(text)
                kinds.append(kind)
                owner.append(c)
            for t in code.exclude:
                excl_texts.append(t)
                excl_owner.append(c)
        self.prototype_texts = texts
        self.prototype_kinds = kinds
        self._owner = np.asarray(owner)
        self._prototypes = embedder.encode(texts)  # (m, dim)
        self._excl_owner = np.asarray(excl_owner, dtype=int)
        self._excl = embedder.encode(excl_texts) if excl_texts else np.zeros((0, self._prototypes.shape[1]), np.float32)
        # descendants (including self) of each code, for leaf-first hierarchy
        index = {p: i for i, p in enumerate(self.codes)}
        self._subtree = [
            [index[q] for q in self.codes if q == p or q.startswith(p + "/")] for p in self.codes
        ]
        self._depth = np.array([p.count("/") for p in self.codes])

    @property
    def model_name(self) -> str:
        return f"{self.name}:{self.codebook.fingerprint}"

    def _by_code(self, sims: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """(n, m) prototype similarities -> (n, n_codes) best per code (-1 where a code has none)."""
        out = np.full((sims.shape[0], len(self.codes)), -1.0, dtype=np.float32)
        for c in range(len(self.codes)):
            cols = owner == c
            if cols.any():
                out[:, c] = sims[:, cols].max(axis=1)
        return out

    def _segment_max(self, encoded: Encoded, matrix: np.ndarray) -> np.ndarray:
        """Best similarity to each row of `matrix` over each segment and its sentences: (n, m)."""
        best = encoded.vectors @ matrix.T
        counts = np.array([len(s) for s in encoded.sentence_vectors])
        if counts.sum() and matrix.shape[0]:
            stacked = np.vstack([s for s in encoded.sentence_vectors if len(s)])
            sent = stacked @ matrix.T
            starts = np.concatenate([[0], np.cumsum(counts[counts > 0])[:-1]])
            best[counts > 0] = np.maximum(best[counts > 0], np.maximum.reduceat(sent, starts, axis=0))
        return best

    def score(self, encoded: Encoded) -> np.ndarray:
        """float32 (n_segments, n_codes) scores in [0, 1]; column c is self.codes[c]
        (a parent's score already includes its descendants')."""
        cfg = self.config
        sims = self._by_code(self._segment_max(encoded, self._prototypes), self._owner)
        if len(self._excl):
            ex = self._by_code(self._segment_max(encoded, self._excl), self._excl_owner)
            sims = sims - cfg.exclude_weight * np.maximum(0.0, ex - sims)
        scores = 1.0 / (1.0 + np.exp(-(sims - cfg.center) / cfg.temperature))
        for c, sub in enumerate(self._subtree):
            if len(sub) > 1:
                scores[:, c] = scores[:, sub].max(axis=1)
        return scores.astype(np.float32)

    def propose(self, segments: Sequence[Segment], encoded: Encoded) -> list[list[CodeProposal]]:
        """For each segment, the proposed codes (leaf-first), best first, each with evidence."""
        return self.propose_scores(segments, encoded, self.score(encoded))

    def propose_scores(self, segments: Sequence[Segment], encoded: Encoded, scores: np.ndarray) -> list[list[CodeProposal]]:
        """Proposals from scores made elsewhere (e.g. a learned head): (n_segments, n_codes), columns
        follow self.codes. Selection (threshold, leaf-first, max_codes) and evidence as in propose."""
        cfg = self.config
        out: list[list[CodeProposal]] = []
        for i, seg in enumerate(segments):
            above = scores[i] >= cfg.threshold
            chosen = []
            for c in np.flatnonzero(above):
                # skip a parent when a descendant is itself above the threshold
                if any(above[d] for d in self._subtree[c] if d != c):
                    continue
                chosen.append(c)
            chosen.sort(key=lambda c: (-scores[i, c], -self._depth[c]))
            out.append([self._proposal(seg, encoded, i, c, float(scores[i, c])) for c in chosen[: cfg.max_codes]])
        return out

    def _proposal(self, seg: Segment, encoded: Encoded, i: int, c: int, score: float) -> CodeProposal:
        """Evidence: the (sentence, prototype) pair of code c's subtree with the highest cosine."""
        cols = np.flatnonzero(np.isin(self._owner, self._subtree[c]))
        sents = encoded.sentence_vectors[i]
        if len(sents) == 0 or not seg.sentences:
            sims = (encoded.vectors[i : i + 1] @ self._prototypes[cols].T)
            k, p = 0, int(np.argmax(sims[0]))
            start, end = seg.start, seg.end
            sentence = seg.text
        else:
            sims = sents @ self._prototypes[cols].T  # (n_sentences, n_cols)
            k, p = np.unravel_index(int(np.argmax(sims)), sims.shape)
            span = seg.sentences[int(k)]
            start, end = seg.start + span.start, seg.start + span.end
            sentence = seg.text[span.start : span.end]
        col = int(cols[p])
        return CodeProposal(
            segment_id=seg.id,
            code=self.codes[c],
            score=round(score, 6),
            evidence=Evidence(
                sentence=sentence,
                start=start,
                end=end,
                matched=self.prototype_texts[col],
                matched_kind=self.prototype_kinds[col],
                similarity=round(float(sims[int(k), p]), 6),
            ),
        )
