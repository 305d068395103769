"""Zero-shot proposals on the real model: sensible codes, multi-label, scores, evidence."""

from __future__ import annotations

import numpy as np

from models.base import Document
from models.text.segment import segment_document


def _propose(zero_shot, embedder, text: str):
    doc = Document("d", text, "d.txt", "txt", False)
    segs = segment_document(doc)
    enc = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs])
    return doc, segs, zero_shot.propose(segs, enc), zero_shot.score(enc)


def test_clear_passages_get_their_codes(zero_shot, embedder):
    cases = {
        "Because they fund almost all of our work, we can't criticise them publicly.": "power/funding",
        "It took years of working side by side before they trusted us.": "trust/built-over-time",
        "Everything comes down from NHS England and we are just told the targets.": "control/top-down",
        "Once the GPs backed the scheme, every practice followed their lead.": "leadership/clinical-professional",
    }
    for text, expected in cases.items():
        _, _, [props], _ = _propose(zero_shot, embedder, text)
        assert props and props[0].code == expected, (text, [(p.code, p.score) for p in props])


def test_unrelated_text_gets_nothing(zero_shot, embedder):
    _, _, [props], _ = _propose(zero_shot, embedder, "The car park is closed for resurfacing until April.")
    assert props == []


def test_multi_label_scores_and_evidence(zero_shot, embedder):
    text = ("The car park was closed again this week. Because they fund seventy per cent of our work, we can't "
            "criticise them in public. And nothing moves until the director signs it off; it is very hierarchical.")
    doc, [seg], [props], scores = _propose(zero_shot, embedder, text)
    codes = [p.code for p in props]
    assert "power/funding" in codes and "leadership/hierarchy" in codes
    assert scores.shape == (1, len(zero_shot.codes)) and (0 <= scores).all() and (scores <= 1).all()
    assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
    for p in props:
        ev = p.evidence
        assert doc.text[ev.start:ev.end] == ev.sentence  # evidence is a real sentence of the segment
        assert ev.matched_kind in ("definition", "include", "example") and ev.matched
    funding = props[codes.index("power/funding")].evidence
    assert "fund seventy per cent" in funding.sentence
    hierarchy = props[codes.index("leadership/hierarchy")].evidence
    assert "director signs it off" in hierarchy.sentence


def test_parent_scores_include_children_and_leaf_first(zero_shot, embedder):
    _, _, [props], scores = _propose(zero_shot, embedder, "Commissioners use the contract to dictate how we run the service.")
    codes = zero_shot.codes
    for parent in ("trust", "power", "control", "leadership"):
        kids = [i for i, c in enumerate(codes) if c.startswith(parent + "/")]
        assert scores[0, codes.index(parent)] >= scores[0, kids].max() - 1e-6
    proposed = {p.code for p in props}
    assert not any(p in proposed for p in ("power",) if "power/funding" in proposed)
    assert np.isfinite(scores).all()
