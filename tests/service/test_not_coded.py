"""A codebook's passages that get no code, through the service: the shipped list keeps a career
line out of the review queue; a codebook version with an empty `not_coded` list lets it back in,
and the list travels with the codebook's content."""

from __future__ import annotations

from tests.api.conftest import new_project, wait_for_job

SMALL_TALK = "I'm the volunteer coordinator, so I recruit and train the volunteers."
TRUST = "It took years of working side by side before they trusted us."


def _queued_texts(owner, pid: int) -> set[str]:
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": "false"})["items"]
    return {i["segment"]["text"] for i in items}


def test_not_coded_passages_stay_out_of_the_queue_until_the_codebook_says_otherwise(make_app, tmp_path):
    app = make_app(tmp_path / "not-coded")
    pid, owner = new_project(app.url, retrain_every=0)
    for name, text in (("a.txt", SMALL_TALK), ("b.txt", TRUST)):
        owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": name, "text": text})
    assert _queued_texts(owner, pid) == {TRUST}

    content = owner.ok("GET", f"/projects/{pid}/codebook")["content"]
    assert "not_coded" not in content  # the seed codebook uses the shipped list
    owner.ok("PUT", f"/projects/{pid}/codebook", json={**content, "not_coded": []})
    assert owner.ok("GET", f"/projects/{pid}/codebook")["content"]["not_coded"] == []
    assert _queued_texts(owner, pid) == {TRUST, SMALL_TALK}
