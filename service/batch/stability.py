"""The model coder run K times under perturbations, for the stability report (eval.stability,
`loupe stability`).

Invariants: every run codes the same units (the data segments of the inputs; a unit is a segment,
or with unit="document" one input row, coded with the union of its segments' codes); run k follows
plans[k] (eval.stability.RunPlan) and nothing else changes between runs; the embedding cache is
not used, so each run encodes its units itself, in its own order; a code's ancestors count as
applied when it is (a proposal of "trust/personal" applies "trust"). Codes are the codebook's
paths in file order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.stability import RunPlan, perturb_codebook
from models.base import Segment
from models.classifiers.zero_shot import ZeroShotClassifier, ZeroShotConfig
from models.codebook import Codebook
from models.text.segment import SegmentationConfig
from service.batch.inputs import ReadOptions, load_corpus
from service.settings import Settings


@dataclass
class Units:
    """ids: (n_units,) unit ids; segments: the data segments; unit_of: (n_segments,) row of each
    segment's unit in ids; attributes: {name: (n_units,) value, "" where unknown}."""

    ids: list[str]
    segments: list[Segment]
    unit_of: np.ndarray
    attributes: dict[str, list[str]]


def _short_id(document_id: str) -> str:
    """A table row's document id is "<file>/<row id>": the row id is what a codings file names."""
    return document_id.rsplit("/", 1)[-1]


def load_units(paths: Sequence[Path], *, read: ReadOptions, unit: str = "segment", keep: set[str] | None = None,
               limit: int | None = None, seed: int = 0, max_levels: int = 20) -> Units:
    """The units to code. keep: only these unit ids (e.g. those the human coders coded); limit: a
    seeded random sample of that many units. Attributes: each document metadata field with at most
    max_levels values, and "file" (the input file a unit comes from)."""
    if unit not in ("segment", "document"):
        raise ValueError("unit must be segment or document")
    corpus = load_corpus(list(paths), read=read, segmentation=SegmentationConfig())
    docs = {d.id: d for d in corpus.documents}
    segments = [s for s in corpus.segments if s.role == "data"]
    unit_id = (lambda s: _short_id(s.document_id)) if unit == "document" else (lambda s: s.id)
    ids = list(dict.fromkeys(unit_id(s) for s in segments))
    if keep is not None:
        ids = [u for u in ids if u in keep]
    if limit is not None and len(ids) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=limit, replace=False))
        ids = [ids[i] for i in pick]
    row = {u: i for i, u in enumerate(ids)}
    segments = [s for s in segments if unit_id(s) in row]
    unit_of = np.array([row[unit_id(s)] for s in segments], dtype=np.int64)
    first_doc: dict[int, str] = {}
    for s, u in zip(segments, unit_of, strict=True):
        first_doc.setdefault(int(u), s.document_id)
    attributes: dict[str, list[str]] = {"file": [first_doc[i].split("/", 1)[0] for i in range(len(ids))]}
    fields = sorted({k for d in docs.values() for k in d.metadata})
    for name in fields:
        values = [str(docs[first_doc[i]].metadata.get(name, "")) for i in range(len(ids))]
        if 1 < len(set(values) - {""}) <= max_levels:
            attributes[name] = values
    return Units(ids, segments, unit_of, attributes)


def run_model(units: Units, codebook: Codebook, plans: Sequence[RunPlan], *, settings: Settings,
              progress: Callable[[int, float], None] | None = None) -> tuple[np.ndarray, list[str], list[float]]:
    """int8 (K, n_units, n_codes) codings of the K runs, the codes (codebook paths) and the seconds
    each run took. progress(run, seconds) after each run."""
    from service.pipeline import build_embedder

    codes = [c.path for c in codebook]
    col = {c: i for i, c in enumerate(codes)}
    ancestors = [[col[a] for a in codebook.ancestors(c)] + [col[c]] for c in codes]
    embedders = {}
    out = np.zeros((len(plans), len(units.ids), len(codes)), dtype=np.int8)
    seconds = []
    for k, plan in enumerate(plans):
        start = time.perf_counter()
        if plan.encoder not in embedders:
            embedders[plan.encoder] = build_embedder(settings.model_copy(update={"embedder_model": plan.encoder}), use_cache=False)
        embedder = embedders[plan.encoder]
        book = codebook if plan.examples_seed is None else perturb_codebook(codebook, seed=plan.examples_seed, drop_example=plan.drop_example)
        clf = ZeroShotClassifier(book, embedder, ZeroShotConfig(threshold=plan.threshold))
        n = len(units.segments)
        order = np.arange(n) if plan.order_seed is None else np.random.default_rng(plan.order_seed).permutation(n)
        segs = [units.segments[i] for i in order]
        encoded = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs])
        for j, proposals in enumerate(clf.propose(segs, encoded)):
            u = units.unit_of[order[j]]
            for p in proposals:
                out[k, u, ancestors[col[p.code]]] = 1
        seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(k, seconds[-1])
    return out, codes, seconds
