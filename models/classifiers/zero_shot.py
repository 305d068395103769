"""Zero-shot code proposals from a codebook, with no training data.

Each code is described by prototype passages: its name with its definition, each include
criterion and each example passage (`kind` = definition / include / example). The design below was
chosen on the zero-shot benchmark (scripts/bench_zero_shot.py, scoring in scripts/zero_shot_scoring.py; the variants and their figures are
in docs/zero-shot.md):

- **A code is the centroid of its branch.** A code's direction is the L2-normalised mean of the
  prototypes of the code and all its sub-codes, so "trust" is described by everything the codebook
  says about trust. (The best single prototype, the earlier rule, lets one lucky example or a
  shared word decide; the mean of similarities favours codes with tight prototypes.)
- **A sub-code is scored along its path.** A code's similarity is the mean of its own branch
  similarity and its ancestors', so a sub-code wins only where its branch fits too.
- **Passage or sentence.** Each unit, the whole segment and each of its sentences, is scored; the
  segment takes the best unit (so one sentence of a long turn can carry a code).
- **Exclude criteria veto a unit.** A unit that matches an exclude criterion of the code or of one
  of its ancestors better than it matches the code does not count for that code. Where an exclude
  criterion names a phrase built on the code's own name ("NHS trust", "trust board" for the code
  Trust), that phrase is a different sense of the word: the code's own word is taken out of it
  before the segment is scored for that code ("the trust board signs" is scored as "the board
  signs"). This needs the segment texts (`score(..., segments=...)`, as `propose` does).
- **Passages that get no code veto a unit for every code.** The codebook's `not_coded` list
  (greetings, logistics, small talk, careers, service descriptions, empty answers; Loupe's shipped
  list, models/data/not_coded.yaml, when the codebook has none) acts as an exclude criterion of
  the whole codebook: a unit at least as close to one of them as a proposed code must be
  (`center`), and closer to it than to a code, does not count for that code. Units near no such
  passage keep their scores, so a codebook far from interview talk (rhetorical roles of abstract
  sentences) is left alone.

    sim    = mean over the code's path of cos(unit, branch centroid), best unit not vetoed
    score  = sigmoid((sim - center) / temperature)          in [0, 1]

`center` and `temperature` are set for all-MiniLM-L6-v2 (branch centroids: on-topic passages
~0.35-0.6, off-topic ~0.1-0.3); other encoders may need other values. These scores rank well but
are not calibrated probabilities: calibration needs decisions (the learned classifier does it).

Proposal policy (`propose_scores`, the same for zero-shot and learned scores): the best code is
proposed when its score reaches `threshold` (`--threshold`, LOUPE_THRESHOLD: the one gate between
"propose something" and "leave this passage alone"); further codes when they reach the threshold
too and lie within `relative` of the best score; at most `max_codes`. Leaf-first: a parent is
proposed only when none of its sub-codes passes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.base import CodeProposal, Embedder, Encoded, Evidence, Segment
from models.classifiers.sense import _WORD, _stop_words, sense_phrases
from models.codebook import Codebook, default_not_coded

PROTOTYPES = ("centroid", "max", "mean")
HIERARCHIES = ("path", "max")
UNITS = ("max", "passage", "sentence", "mix")
EXCLUDES = ("veto", "subtract", "none")
NOT_CODED = ("veto", "none")
NORMALISE = ("none", "corpus")
PHRASE_EXCLUDES = ("veto", "mask")


@dataclass(frozen=True)
class ZeroShotConfig:
    """Scoring and proposal settings. The defaults won on the zero-shot benchmark (docs/zero-shot.md);
    the other values of the string options are kept for that comparison."""

    threshold: float = 0.5  # minimum score for a proposal; the best code's gate
    center: float = 0.3  # similarity that maps to score 0.5
    temperature: float = 0.05
    relative: float = 0.1  # further codes only within this score distance of the best one
    max_codes: int = 3  # at most this many proposals per segment
    prototypes: str = "centroid"  # centroid | max | mean: how a branch's prototypes combine
    definition_weight: float = 1.0  # centroid weight of a definition against 1 for each include / example
    hierarchy: str = "path"  # path (mean along the path) | max (a parent is its best descendant)
    unit: str = "max"  # max (best of passage and sentences) | passage | sentence | mix (their mean)
    exclude: str = "veto"  # veto | subtract | none
    exclude_weight: float = 0.5  # exclude="subtract": sim - weight * max(0, sim_exclude - sim)
    sense_phrases: bool = True  # take the code's word out of phrases its exclude criteria name
    phrase_excludes: str = "veto"  # veto | mask: an exclude criterion that names sense phrases also vetoes by similarity, or only masks
    not_coded: str = "veto"  # veto | none: a unit closer to a not-coded passage than to a code does not count for it
    normalise: str = "none"  # none | corpus (z-score per code over the segments scored together)

    def __post_init__(self) -> None:
        for name, allowed in (("prototypes", PROTOTYPES), ("hierarchy", HIERARCHIES), ("unit", UNITS),
                              ("exclude", EXCLUDES), ("normalise", NORMALISE),
                              ("not_coded", NOT_CODED), ("phrase_excludes", PHRASE_EXCLUDES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"ZeroShotConfig.{name} must be one of {', '.join(allowed)}")


class ZeroShotClassifier:
    """Scores segments against every code of a codebook from its text alone."""

    name = "zero-shot"

    def __init__(self, codebook: Codebook, embedder: Embedder, config: ZeroShotConfig = ZeroShotConfig()) -> None:
        self.codebook = codebook
        self.config = config
        self.embedder = embedder
        self.codes = list(codebook.codes)
        index = {p: i for i, p in enumerate(self.codes)}
        # descendants (including self) and ancestors (including self) of each code
        self._subtree = [[index[q] for q in self.codes if q == p or q.startswith(p + "/")] for p in self.codes]
        self._path = [[index[q] for q in self.codes if p == q or p.startswith(q + "/")] for p in self.codes]
        self._depth = np.array([p.count("/") for p in self.codes])
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
        dim = self._prototypes.shape[1]
        self._excl_owner = np.asarray(excl_owner, dtype=int)
        self._excl = embedder.encode(excl_texts) if excl_texts else np.zeros((0, dim), np.float32)
        # passages that get no code (the codebook's not_coded list, else the shipped one)
        self.not_coded_texts = list(codebook.not_coded if codebook.not_coded is not None else default_not_coded())
        use = config.not_coded == "veto" and self.not_coded_texts
        self._not_coded = embedder.encode(self.not_coded_texts) if use else np.zeros((0, dim), np.float32)
        # branch centroids: row c = normalised mean of the prototypes of code c's subtree
        weight = np.where(np.asarray(kinds) == "definition", config.definition_weight, 1.0).astype(np.float32)
        cent = np.stack([(self._prototypes * weight[:, None])[np.isin(self._owner, sub)].sum(axis=0) for sub in self._subtree])
        self._centroids = (cent / np.linalg.norm(cent, axis=1, keepdims=True)).astype(np.float32)
        # exclude criteria that apply to each code: its own and its ancestors'
        self._excl_cols = [np.flatnonzero(np.isin(self._excl_owner, path)) for path in self._path]
        if config.sense_phrases and config.phrase_excludes == "mask":  # criteria that name phrases act by masking only
            named = np.array([bool(sense_phrases(self._name_words(o), [t])) for t, o in zip(excl_texts, excl_owner, strict=True)], dtype=bool)
            self._excl_cols = [cols[~named[cols]] for cols in self._excl_cols]
        # prototype rows of each code's branch (its evidence is matched among them)
        self._branch_cols = [np.flatnonzero(np.isin(self._owner, sub)) for sub in self._subtree]
        # phrases that use a code's word in another sense, per code (see the module docstring)
        self._phrases: list[list[str]] = []
        for c, path in enumerate(self._path):
            words = self._name_words(c)
            self._phrases.append(sense_phrases(words, [t for t, o in zip(excl_texts, excl_owner, strict=True) if o in path]))
        self._phrase_res = [
            re.compile(r"\b(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ph) + r")\b", re.I) if ph else None
            for ph in self._phrases
        ]

    def _name_words(self, c: int) -> set[str]:
        """The content words of the names along code c's path ("trust", "personal")."""
        path = self._path[c]
        return {w.lower() for p in path for w in _WORD.findall(self.codebook[self.codes[p]].name)} - _stop_words()

    @property
    def model_name(self) -> str:
        return f"{self.name}:{self.codebook.scoring_fingerprint}"

    # -- similarities ------------------------------------------------------------------------------
    def _code_sims(self, units: np.ndarray) -> np.ndarray:
        """(u, dim) unit vectors -> (u, n_codes) similarity of each unit to each code (before excludes)."""
        cfg = self.config
        if cfg.prototypes == "centroid":
            branch = units @ self._centroids.T
        else:
            sims = units @ self._prototypes.T
            branch = np.empty((units.shape[0], len(self.codes)), np.float32)
            for c, sub in enumerate(self._subtree):
                cols = np.isin(self._owner, sub)
                branch[:, c] = sims[:, cols].max(axis=1) if cfg.prototypes == "max" else sims[:, cols].mean(axis=1)
        if cfg.hierarchy == "max":
            return np.stack([branch[:, sub].max(axis=1) for sub in self._subtree], axis=1) if cfg.prototypes != "max" else branch
        return np.stack([branch[:, path].mean(axis=1) for path in self._path], axis=1)

    def _unit_sims(self, units: np.ndarray) -> np.ndarray:
        """(u, dim) -> (u, n_codes) similarity after the exclude criteria."""
        cfg = self.config
        sims = self._code_sims(units)
        if len(self._not_coded):
            # as close to a passage that gets no code as a proposed code must be (center), and closer
            # to it than to the code: the unit does not count for that code
            background = (units @ self._not_coded.T).max(axis=1, keepdims=True)
            sims = np.where((background > sims) & (background >= cfg.center), -1.0, sims).astype(np.float32)
        if cfg.exclude == "none" or not len(self._excl):
            return sims
        ex_all = units @ self._excl.T
        ex = np.full_like(sims, -1.0)
        for c, cols in enumerate(self._excl_cols):
            if len(cols):
                ex[:, c] = ex_all[:, cols].max(axis=1)
        if cfg.exclude == "veto":
            return np.where(ex > sims, -1.0, sims).astype(np.float32)
        out: np.ndarray = sims - cfg.exclude_weight * np.maximum(0.0, ex - sims)
        return out

    def _segment_sims(self, vector: np.ndarray, sentences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One segment: (n_codes,) similarity and (n_codes,) index of the unit that gave it
        (-1 = the whole passage, k = sentence k)."""
        cfg = self.config
        whole = self._unit_sims(vector[None, :])[0]
        if not len(sentences) or cfg.unit == "passage":
            return whole, np.full(whole.shape, -1)
        sent = self._unit_sims(sentences)
        best_k = sent.argmax(axis=0)
        best = sent.max(axis=0)
        if cfg.unit == "sentence":
            return best, best_k
        if cfg.unit == "mix":
            return (whole + best) / 2, best_k
        return np.maximum(whole, best), np.where(best > whole, best_k, -1)

    def similarities(self, encoded: Encoded, segments: Sequence[Segment] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(n_segments, n_codes) similarities and the unit each came from (-1 passage, k sentence k).

        With `segments` (their texts and sentence spans), phrases that the exclude criteria name
        are neutralised first (see the module docstring); without, the vectors are used as they are.
        """
        sims, where, _ = self._similarities(encoded, segments)
        return sims, where

    def _similarities(self, encoded: Encoded, segments: Sequence[Segment] | None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """`similarities`, and each segment's (n_sentences, n_codes) sentence similarities (before
        neutralising). Every unit of the batch is scored in one matrix product; each segment then
        takes its best unit per code, as `_segment_sims` does for one segment."""
        cfg = self.config
        n, n_codes = len(encoded.vectors), len(self.codes)
        whole = self._unit_sims(np.asarray(encoded.vectors, dtype=np.float32)) if n else np.empty((0, n_codes), np.float32)
        counts = np.array([len(v) for v in encoded.sentence_vectors], dtype=np.int64)
        if cfg.unit == "passage" or not counts.sum():
            empty = np.empty((0, n_codes), np.float32)
            return whole.astype(np.float32), np.full((n, n_codes), -1, np.int64), [empty] * n
        sent_all = self._unit_sims(np.concatenate([v for v in encoded.sentence_vectors if len(v)]))
        ends = np.cumsum(counts)
        starts = ends - counts
        per_segment = [sent_all[a:e] for a, e in zip(starts, ends, strict=True)]
        has = np.flatnonzero(counts)  # segments with sentences; the others keep the passage
        # per segment with sentences: the best sentence per code, and its (first) position
        best = np.maximum.reduceat(sent_all, starts[has], axis=0)
        local = np.arange(len(sent_all)) - np.repeat(starts[has], counts[has])
        at_best = np.where(sent_all == np.repeat(best, counts[has], axis=0), local[:, None], np.iinfo(np.int64).max)
        best_k = np.minimum.reduceat(at_best, starts[has], axis=0)
        sims = whole.astype(np.float32, copy=True)
        where = np.full((n, n_codes), -1, np.int64)
        if cfg.unit == "sentence":
            sims[has], where[has] = best, best_k
        elif cfg.unit == "mix":
            sims[has], where[has] = (whole[has] + best) / 2, best_k
        else:
            sims[has], where[has] = np.maximum(whole[has], best), np.where(best > whole[has], best_k, -1)
        if segments is not None and self.config.sense_phrases:
            self._neutralise(segments, sims, where)
        if self.config.normalise == "corpus" and n > 1:
            valid = sims > -1.0
            mean = np.array([sims[valid[:, c], c].mean() if valid[:, c].any() else 0.0 for c in range(sims.shape[1])])
            std = np.array([sims[valid[:, c], c].std() if valid[:, c].sum() > 1 else 1.0 for c in range(sims.shape[1])])
            # back on the cosine scale: z-score, then the typical on-topic spread around the center
            sims = np.where(valid, self.config.center + 0.1 * (sims - mean) / np.maximum(std, 1e-6), sims).astype(np.float32)
        return sims, where, per_segment

    def _neutralise(self, segments: Sequence[Segment], sims: np.ndarray, where: np.ndarray) -> None:
        """Re-score, for the codes concerned, segments that contain a phrase their excludes name."""
        for i, seg in enumerate(segments):
            hit = [c for c, rx in enumerate(self._phrase_res) if rx is not None and rx.search(seg.text)]
            if not hit:
                continue
            texts = [seg.text] + [seg.text[s.start:s.end] for s in seg.sentences]
            for c in hit:
                masked = [self._mask(t, c) for t in texts]
                vecs = self._encode_uncounted(masked)
                s, k = self._segment_sims(vecs[0], vecs[1:] if len(seg.sentences) else vecs[:0])
                sims[i, c], where[i, c] = s[c], k[c]

    def _encode_uncounted(self, texts: list[str]) -> np.ndarray:
        """Encode derived texts without adding to the embedder's segment counts (`stats`, where it
        keeps them): a batch reports how many *segments* it encoded or found in the cache."""
        stats = getattr(self.embedder, "stats", None)
        before = dict(stats) if isinstance(stats, dict) else None
        vecs = self.embedder.encode(texts)
        if before is not None and isinstance(stats, dict):
            stats.update(before)
        return vecs

    def _mask(self, text: str, c: int) -> str:
        """`text` with code c's own word taken out of the phrases its exclude criteria name."""
        rx, words = self._phrase_res[c], self._name_words(c)
        if rx is None:
            return text

        def drop(m: re.Match[str]) -> str:
            return " ".join(w for w in m.group(0).split() if w.lower() not in words)

        return rx.sub(drop, text)

    def score(self, encoded: Encoded, segments: Sequence[Segment] | None = None) -> np.ndarray:
        """float32 (n_segments, n_codes) scores in [0, 1]; column c is self.codes[c].

        `segments` (optional): the segments `encoded` embeds, so that exclude-named phrases are
        neutralised; `propose` always passes them.
        """
        sims, _ = self.similarities(encoded, segments)
        return self._to_score(sims)

    def _to_score(self, sims: np.ndarray) -> np.ndarray:
        cfg = self.config
        return (1.0 / (1.0 + np.exp(-(sims - cfg.center) / cfg.temperature))).astype(np.float32)

    # -- proposals ---------------------------------------------------------------------------------
    def propose(self, segments: Sequence[Segment], encoded: Encoded) -> list[list[CodeProposal]]:
        """For each segment, the proposed codes (leaf-first), best first, each with evidence."""
        sims, where, sentence_sims = self._similarities(encoded, segments)
        return self._select(segments, encoded, self._to_score(sims), where, sentence_sims)

    def propose_scores(self, segments: Sequence[Segment], encoded: Encoded, scores: np.ndarray) -> list[list[CodeProposal]]:
        """Proposals from scores made elsewhere (e.g. a learned head): (n_segments, n_codes), columns
        follow self.codes. Selection (threshold, relative, leaf-first, max_codes) and evidence as in propose."""
        _, where, sentence_sims = self._similarities(encoded, segments)
        return self._select(segments, encoded, scores, where, sentence_sims)

    def select(self, scores: np.ndarray) -> list[list[int]]:
        """The policy alone: for each row of (n, n_codes) scores, the chosen code indices, best first."""
        cfg = self.config
        out: list[list[int]] = []
        for row in scores:
            best = float(row.max()) if len(row) else 0.0
            above = (row >= cfg.threshold) & (row >= best - cfg.relative)
            chosen = [int(c) for c in np.flatnonzero(above) if not any(above[d] for d in self._subtree[c] if d != c)]
            chosen.sort(key=lambda c: (-row[c], -self._depth[c]))
            out.append(chosen[: cfg.max_codes])
        return out

    def _select(self, segments: Sequence[Segment], encoded: Encoded, scores: np.ndarray, where: np.ndarray,
                sentence_sims: list[np.ndarray]) -> list[list[CodeProposal]]:
        return [
            [self._proposal(seg, encoded, i, c, float(scores[i, c]), int(where[i, c]), sentence_sims[i]) for c in chosen]
            for i, (seg, chosen) in enumerate(zip(segments, self.select(scores), strict=True))
        ]

    def _proposal(self, seg: Segment, encoded: Encoded, i: int, c: int, score: float, unit: int,
                  sentence_sims: np.ndarray | None = None) -> CodeProposal:
        """Evidence: the sentence that carries code c (the best-scoring sentence for it, or the
        passage when the passage scored best and it has one sentence), and the prototype of c's
        branch closest to it. sentence_sims: segment i's (n_sentences, n_codes) sentence similarities, where
        computed already (else computed here)."""
        cols = self._branch_cols[c]
        sents = encoded.sentence_vectors[i]
        if len(sents) == 0 or not seg.sentences:
            vec, start, end, sentence = encoded.vectors[i], seg.start, seg.end, seg.text
        else:
            if unit >= 0:
                k = unit
            else:
                if sentence_sims is None or len(sentence_sims) != len(sents):
                    sentence_sims = self._unit_sims(sents)
                k = int(np.argmax(sentence_sims[:, c]))
            span = seg.sentences[k]
            vec = sents[k]
            start, end = seg.start + span.start, seg.start + span.end
            sentence = seg.text[span.start : span.end]
        sims = self._prototypes[cols] @ vec
        p = int(np.argmax(sims))
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
                similarity=round(float(sims[p]), 6),
            ),
        )
