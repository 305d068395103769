"""The cluster job counts a code as covering a passage at the discovery cover score, not at the
recall-first proposal threshold, and scores with the segments' texts, so that phrases a code's
exclude criteria name ("trust board", "NHS trust") do not cover passages for that code.

Without the texts, these four passages were covered by trust codes; at the proposal threshold
(0.5), two of them counted as covered by weak power and control proposals, at the cover score
one does."""

from __future__ import annotations

from models.discovery.describe import COVER_SCORE
from tests.api.conftest import new_project, wait_for_job

BOARD = [
    "The trust board signs the contract in March.",
    "The NHS trust sends its papers to the board a week before the meeting.",
    "Our foundation trust moved its offices to the new site last year.",
    "The trust board meets on the first Tuesday of the month.",
]


def test_the_cluster_job_covers_at_the_cover_score_with_sense_phrases(make_app, tmp_path):
    app = make_app(tmp_path / "cover")
    pid, owner = new_project(app.url, retrain_every=0, threshold=0.5)
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "board.txt", "text": "\n\n".join(BOARD), "unit": "paragraph"})
    # no suggest job has run: the cluster job scores the segments itself
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "cluster", "params": {"method": "kmeans", "k": 2, "seed": 0}})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    clusters = owner.ok("GET", f"/projects/{pid}/clusters")["clusters"]
    assert sum(c["size"] for c in clusters) == len(BOARD)
    codes = {str(c[0] if isinstance(c, list) else c["code"]) for cl in clusters for c in cl["codes"]}
    # "trust" here names organisations: with the texts, the sense phrases keep every trust code off them
    assert not [c for c in codes if c.split("/")[0] == "trust"], (codes, COVER_SCORE)
    # a weak proposal does not cover: fewer passages count as covered than get a proposal
    covered = sum(round(c["coverage"] * c["size"]) for c in clusters)
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": "false"})["items"]
    proposed = {i["segment"]["id"] for i in items}
    assert covered < len(proposed), (covered, len(proposed))
