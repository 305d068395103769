"""What a cluster is about, how well the codebook already covers it, and candidate codes.

- Keywords: class-based TF-IDF (Grootendorst 2022, as in BERTopic): the members of each cluster
  are joined into one document; a term's weight is its share of the cluster's terms times
  log(1 + A / f), where A is the mean number of terms per cluster and f the term's frequency
  over all clusters. Terms common to every cluster sink; terms that mark one cluster rise.
- Representatives: the members closest to the centroid, skipping near-duplicates.
- Coverage: the share of members that carry a code already (an accepted one, or a score at or
  above the threshold), and which codes those are. A cluster whose coverage is below the
  coverage threshold is a candidate code, with a name and a definition drawn from its keywords
  and representatives (an LLM backend, when configured, can write better ones).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from models.discovery.clustering import Clustering


@dataclass
class ClusterInfo:
    label: int
    size: int
    members: list[int]  # row indices, closest to the centroid first
    keywords: list[tuple[str, float]]
    representatives: list[int]  # row indices
    documents: dict[str, int]  # document -> members from it
    speakers: dict[str, int]
    coverage: float = 0.0
    codes: list[tuple[str, int]] = field(default_factory=list)  # code -> members carrying it, most first
    candidate: bool = False
    name: str = ""
    definition: str = ""


# what is left of contractions once apostrophes split words ("don't" -> "don"), and filler
CONTRACTIONS = frozenset("don doesn didn isn wasn weren aren won wouldn couldn shouldn haven hasn hadn ll ve re".split())


def class_tfidf(texts: list[str], labels: np.ndarray, n_clusters: int, top: int = 8) -> list[list[tuple[str, float]]]:
    """Top terms per cluster by class-based TF-IDF (unigrams and bigrams, English stop words out)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    joined = [" ".join(texts[i] for i in np.flatnonzero(labels == c)) for c in range(n_clusters)]
    if not any(j.strip() for j in joined):
        return [[] for _ in range(n_clusters)]
    vectorizer = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | CONTRACTIONS), ngram_range=(1, 2), min_df=1, max_features=100_000,
                                 token_pattern=r"(?u)\b[^\W\d_]{2,}\b")  # letters only: "that's" -> "that" (a stop word)
    try:
        counts = vectorizer.fit_transform(joined)
    except ValueError:  # nothing but stop words
        return [[] for _ in range(n_clusters)]
    terms = vectorizer.get_feature_names_out()
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    freq = np.asarray(counts.sum(axis=0)).ravel()
    avg = float(counts.sum()) / max(n_clusters, 1)
    idf = np.log1p(avg / np.maximum(freq, 1))
    weights = tf.multiply(idf).tocsr()
    out = []
    for c in range(n_clusters):
        row = weights.getrow(c)
        order = np.argsort(-row.data)[: top * 3]
        picked: list[tuple[str, float]] = []
        for j in order:
            term = terms[row.indices[j]]
            if any(term in p or p in term for p, _ in picked):  # "waiting" and "waiting list": keep one
                continue
            picked.append((str(term), round(float(row.data[j]), 5)))
            if len(picked) == top:
                break
        out.append(picked)
    return out


def _norm_text(t: str) -> str:
    return re.sub(r"\W+", " ", t.lower()).strip()


def describe_clusters(
    clustering: Clustering,
    vectors: np.ndarray,
    texts: list[str],
    documents: list[str],
    speakers: list[str | None],
    *,
    n_keywords: int = 8,
    n_representatives: int = 5,
    duplicate_similarity: float = 0.95,
) -> list[ClusterInfo]:
    """One ClusterInfo per cluster (noise excluded), in label order."""
    labels = clustering.labels
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    keywords = class_tfidf(texts, labels, clustering.n_clusters, n_keywords)
    out = []
    for c in range(clustering.n_clusters):
        idx = np.flatnonzero(labels == c)
        sims = x[idx] @ clustering.centroids[c]
        members = idx[np.argsort(-sims, kind="stable")]
        reps: list[int] = []
        seen: set[str] = set()
        for i in members:
            key = _norm_text(texts[i])
            if key in seen or any(float(x[i] @ x[j]) >= duplicate_similarity for j in reps):
                continue
            seen.add(key)
            reps.append(int(i))
            if len(reps) == n_representatives:
                break
        out.append(ClusterInfo(
            label=c, size=int(idx.size), members=[int(i) for i in members], keywords=keywords[c], representatives=reps,
            documents=dict(Counter(documents[i] for i in idx).most_common()),
            speakers=dict(Counter(s for i in idx if (s := speakers[i])).most_common()),
        ))
    return out


COVER_SCORE = 0.9
"""A code covers a passage, for discovery, when it scores at least this (or the proposal threshold,
when that is higher). Proposals use a recall-first gate, 0.5 by default: a reviewer would rather
reject a weak candidate than never see a right one, so most passages of an interview get some
proposal, and at 0.5 almost every cluster would count as covered. Discovery asks a different
question, whether a code clearly fits. 0.9 is a zero-shot similarity of 0.41 (center 0.3,
temperature 0.05), one step above the gate of 0.40 at which 7% of the interview dev set's
off-topic turns are coded (docs/zero-shot.md, the policy table)."""


def cover_threshold(threshold: float) -> float:
    """The score at which a code covers a passage for discovery: COVER_SCORE, or `threshold` if higher."""
    return max(float(threshold), COVER_SCORE)


def member_codes(scores: np.ndarray | None, codes: list[str], threshold: float, accepted: dict[int, set[str]] | None = None) -> list[set[str]]:
    """The codes each row carries: accepted ones, and those scored at or above the threshold."""
    n = scores.shape[0] if scores is not None else 0
    n = max(n, max(accepted) + 1 if accepted else 0)
    out: list[set[str]] = [set() for _ in range(n)]
    if scores is not None:
        rows, cols = np.nonzero(scores >= threshold)
        for r, c in zip(rows, cols, strict=True):
            out[int(r)].add(codes[int(c)])
    for i, cs in (accepted or {}).items():
        out[i] |= cs
    return out


def apply_coverage(clusters: list[ClusterInfo], carried: list[set[str]], texts: list[str], *, coverage_threshold: float = 0.5) -> list[ClusterInfo]:
    """Set coverage and codes on each cluster; mark those below the threshold as candidate codes."""
    for cl in clusters:
        tally: Counter[str] = Counter()
        covered = 0
        for i in cl.members:
            codes = carried[i] if i < len(carried) else set()
            covered += bool(codes)
            tally.update(codes)
        cl.coverage = covered / cl.size if cl.size else 0.0
        cl.codes = tally.most_common()
        cl.candidate = cl.coverage < coverage_threshold
        if cl.candidate:
            cl.name, cl.definition = suggest_name(cl, texts)
    return clusters


def suggest_name(cl: ClusterInfo, texts: list[str]) -> tuple[str, str]:
    """A working name and definition from the keywords and the most central passage."""
    words = [w for w, _ in cl.keywords]
    name = " / ".join(w.capitalize() for w in words[:2]) or f"Cluster {cl.label}"
    about = ", ".join(words[:5]) or "no distinctive terms"
    example = texts[cl.representatives[0]].strip() if cl.representatives else ""
    example = (example[:200] + "...") if len(example) > 200 else example
    definition = (f"Passages about {about}. Surfaced by clustering: {cl.size} segments from {len(cl.documents)} "
                  f"document(s) that existing codes cover for {cl.coverage:.0%} of them. For example: \"{example}\"")
    return name, definition
