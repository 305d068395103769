"""Zero-shot proposals on the real model: sensible codes, multi-label, scores, evidence, excludes, policy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.base import Document
from models.classifiers.zero_shot import ZeroShotClassifier, ZeroShotConfig, sense_phrases
from models.text.segment import segment_document


def _propose(zero_shot, embedder, text: str):
    doc = Document("d", text, "d.txt", "txt", False)
    segs = segment_document(doc)
    enc = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs])
    return doc, segs, zero_shot.propose(segs, enc), zero_shot.score(enc, segs)


def test_clear_passages_get_their_codes(zero_shot, embedder):
    cases = {
        "Because they fund almost all of our work, we can't criticise them publicly.": "power",
        "It took years of working side by side before they trusted us.": "trust",
        "Everything comes down from NHS England and we are just told the targets.": "control",
        "She is the one who leads the whole partnership; without her nothing would have happened.": "leadership",
    }
    for text, expected in cases.items():
        _, _, [props], _ = _propose(zero_shot, embedder, text)
        assert props and props[0].code.split("/")[0] == expected, (text, [(p.code, p.score) for p in props])


def test_unrelated_text_gets_nothing(zero_shot, embedder):
    _, _, [props], _ = _propose(zero_shot, embedder, "The car park is closed for resurfacing until April.")
    assert props == []


def test_multi_label_scores_and_evidence(zero_shot, embedder):
    """Each proposal's evidence is the sentence that carries its code, not the segment's best sentence overall."""
    text = ("The car park was closed again this week. Because they fund almost all of our work, we can't "
            "criticise them in public. And nothing moves until the director signs it off; it is very hierarchical.")
    doc, [seg], [props], scores = _propose(zero_shot, embedder, text)
    assert scores.shape == (1, len(zero_shot.codes)) and (0 <= scores).all() and (scores <= 1).all()
    assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
    for p in props:
        ev = p.evidence
        assert doc.text[ev.start:ev.end] == ev.sentence  # evidence is a real sentence of the segment
        assert ev.matched_kind in ("definition", "include", "example") and ev.matched
    # whichever codes pass, the evidence of every code follows the code: one sentence per concept
    enc = embedder.encode_segments([seg.text], [seg.sentences])
    for path, words in (("power/funding", "fund almost all"), ("leadership/hierarchy", "director signs it off")):
        c = zero_shot.codes.index(path)
        ev = zero_shot._proposal(seg, enc, 0, c, float(scores[0, c]), -1).evidence
        assert words in ev.sentence, (path, ev.sentence)
    assert "car park" not in " ".join(p.evidence.sentence for p in props)


def test_leaf_first_and_path_scores(zero_shot, embedder):
    _, segs, [props], scores = _propose(zero_shot, embedder, "Commissioners use the contract to dictate how we run the service.")
    codes = zero_shot.codes
    proposed = {p.code for p in props}
    for p in proposed:  # a parent is proposed only when none of its sub-codes is
        assert not any(q.startswith(p + "/") for q in proposed)
    # a sub-code's similarity is the mean of its branch's and its parent's
    enc = embedder.encode_segments([s.text for s in segs], [s.sentences for s in segs])
    branch = enc.vectors @ zero_shot._centroids.T
    path = zero_shot._code_sims(enc.vectors)
    for c, code in enumerate(codes):
        if "/" in code:
            parent = codes.index(code.split("/")[0])
            assert path[0, c] == pytest.approx((branch[0, c] + branch[0, parent]) / 2, abs=1e-5)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("text", ["the trust board signs the contract", "the foundation trust", "NHS trust",
                                  "The paper goes to the trust board next month and the NHS trust will decide."])
def test_trust_as_an_organisation_is_not_coded_trust(zero_shot, embedder, text):
    _, _, [props], _ = _propose(zero_shot, embedder, text)
    assert not [p.code for p in props if p.code.split("/")[0] == "trust"], [(p.code, p.score) for p in props]


def test_exclude_named_phrases_are_what_stops_trust(seed, embedder, zero_shot):
    """The organisation name, not the veto alone, is what stops "trust board" coding trust."""
    plain = ZeroShotClassifier(seed, embedder, replace(zero_shot.config, sense_phrases=False))
    _, _, [props], _ = _propose(plain, embedder, "the trust board signs the contract")
    assert props and props[0].code.split("/")[0] == "trust"  # the word alone pulls it to trust
    _, _, [props], _ = _propose(zero_shot, embedder, "the trust board signs the contract")
    assert not [p.code for p in props if p.code.split("/")[0] == "trust"]


@pytest.mark.parametrize("text", ["Over two years we've got to know each other, and I'd trust her judgement.",
                                  "I don't trust the trust board to keep its word on the contract."])
def test_trust_itself_is_still_coded_trust(zero_shot, embedder, text):
    _, _, [props], _ = _propose(zero_shot, embedder, text)
    assert props and props[0].code.split("/")[0] == "trust", [(p.code, p.score) for p in props]


def test_sense_phrases_come_from_excludes_and_skip_pointers():
    excludes = ["An NHS trust or the trust board as an organisation (code organisational trust).", "Trust as such."]
    assert sense_phrases({"trust"}, excludes) == ["nhs trust", "trust board"]
    # the word in its own sense: a verb after it, or a pair across punctuation, is no other sense
    assert sense_phrases({"leadership"}, ["Leadership shared across a group (code shared leadership)."]) == []
    assert sense_phrases({"power"}, ["Power exercised through money."]) == []
    assert sense_phrases({"trust"}, ['Code what is said, not the word "trust".', "Policy, trust or strategy."]) == []
    assert sense_phrases({"trust"}, ["An acute, mental health or ambulance trust."]) == ["ambulance trust"]
    assert sense_phrases({"trust"}, ["A trust deed of a charity."]) == ["trust deed"]


def test_threshold_and_relative_policy(seed, embedder, zero_shot):
    codes = zero_shot.codes
    scores = np.zeros((3, len(codes)), np.float32)
    t, tb, p = codes.index("trust"), codes.index("trust/built-over-time"), codes.index("power")
    scores[0, [t, tb, p]] = [0.9, 0.85, 0.82]  # all pass; built-over-time replaces its parent
    scores[1, [t, p]] = [0.9, 0.7]  # power is too far below the best
    scores[2, t] = 0.45  # below the threshold: the segment is left alone
    chosen = zero_shot.select(scores)
    assert [codes[c] for c in chosen[0]] == ["trust/built-over-time", "power"]
    assert [codes[c] for c in chosen[1]] == ["trust"]
    assert chosen[2] == []
    lower = ZeroShotClassifier(seed, embedder, replace(zero_shot.config, threshold=0.4, relative=1.0))
    assert [codes[c] for c in lower.select(scores)[1]] == ["trust", "power"]
    assert [codes[c] for c in lower.select(scores)[2]] == ["trust"]


def test_config_rejects_unknown_options():
    with pytest.raises(ValueError, match="prototypes"):
        ZeroShotConfig(prototypes="median")


@pytest.mark.parametrize("text", [
    "Sorry, can we pause for a second? Someone's at the door.",
    "I've worked for the council for twelve years, mostly in housing.",
    "I'm the volunteer coordinator, so I recruit and train the volunteers.",
])
def test_interview_small_talk_is_not_coded(zero_shot, embedder, text):
    """The shipped not-coded passages (models/data/not_coded.yaml) keep small talk and career
    histories out; these two sentences are not in that list."""
    _, _, [props], _ = _propose(zero_shot, embedder, text)
    assert props == [], [(p.code, p.score) for p in props]


def test_not_coded_veto_is_what_keeps_small_talk_out(seed, embedder, zero_shot):
    """Without the veto the same small talk gets a code: the list does the work, not the threshold."""
    text = "I'm the volunteer coordinator, so I recruit and train the volunteers."
    without = ZeroShotClassifier(seed, embedder, replace(zero_shot.config, not_coded="none"))
    _, _, [props], _ = _propose(without, embedder, text)
    assert props, "expected this career history to be coded when nothing vetoes it"
    _, _, [props], _ = _propose(zero_shot, embedder, "It took years of working side by side before they trusted us.")
    assert props and props[0].code.startswith("trust"), "the veto must leave a trust statement alone"


def test_a_codebook_replaces_or_empties_the_not_coded_list(seed, embedder):
    from models.codebook import default_not_coded, parse_codebook

    assert zero_shot_texts(ZeroShotClassifier(seed, embedder)) == list(default_not_coded())
    own = parse_codebook({**seed.source, "not_coded": ["We met in the canteen."]})
    assert zero_shot_texts(ZeroShotClassifier(own, embedder)) == ["We met in the canteen."]
    off = ZeroShotClassifier(parse_codebook({**seed.source, "not_coded": []}), embedder)
    assert off.not_coded_texts == [] and off._not_coded.shape[0] == 0


def zero_shot_texts(clf: ZeroShotClassifier) -> list[str]:
    assert clf._not_coded.shape[0] == len(clf.not_coded_texts)
    return clf.not_coded_texts
