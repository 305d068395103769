"""The zero-shot benchmark's own gold sets load, and every transcript answer is found verbatim in
its file (scripts/zero_shot_datasets.py raises otherwise)."""

from __future__ import annotations

from collections import Counter

from scripts.zero_shot_datasets import HELDOUT, INTERVIEWS, load_datasets


def test_interview_transcript_and_heldout_gold_sets_load():
    sets = {ds.name: ds for ds in load_datasets(["interview", "transcripts", "heldout"], INTERVIEWS)}
    assert set(sets) == {"interview", "transcripts", "heldout"}
    heldout = sets["heldout"].evaluations["heldout"]
    assert Counter(g.gold for g in heldout) == {"trust": 5, "power": 5, "control": 5, "leadership": 5, "none": 4}
    assert {g.kind for g in heldout if g.gold == "none"} == {"off_topic"}
    interview = sets["interview"].evaluations["interview"]
    assert Counter(g.kind for g in interview) == {"on_topic": 103, "off_topic": 42, "not_data": 17}
    assert len(sets["transcripts"].evaluations["transcripts"]) == 13
    assert (HELDOUT / "README.md").exists()
