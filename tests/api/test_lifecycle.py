"""Server lifecycle: a suggest job killed mid-way (SIGKILL) runs again at the next start and ends
as if never interrupted (same suggestions as an uninterrupted run, none twice); an admin token,
when configured, guards project creation."""

from __future__ import annotations

import time

from tests.api.conftest import Api, new_project, wait_for_job

TOPICS = [  # answers the seed codebook codes plainly, so every run has suggestions to compare
    "We trust the charity because they have always delivered what they promised.",
    "The commissioners hold the money, so in the end they decide what counts.",
    "Control comes from the top: the trust board sets targets and we report against them.",
    "The consultant led the change; clinical leadership made the difference.",
    "Trust was built slowly, over years of working side by side.",
    "Funding is short-term, which gives the statutory side all the power.",
]


def transcript(n: int, salt: str) -> str:
    lines = []
    for k in range(n):
        who = "Interviewer" if k % 2 == 0 else "P1"
        lines.append(f"{who}: {TOPICS[k % len(TOPICS)]} (meeting {k}, {salt})")
    return "\n".join(lines)


def suggestions_by_position(api: Api, pid: int) -> list[tuple[int, str, float]]:
    segs = {s["id"]: s["ordinal"] for s in api.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000})}
    items, cursor = [], None
    while True:
        page = api.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": False, **({"cursor": cursor} if cursor else {})})
        items += [i["suggestion"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return sorted((segs[s["segment_id"]], s["code"], round(s["score"], 5)) for s in items)


def test_killed_job_resumes_and_matches_an_uninterrupted_run(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "jobs", LOUPE_JOB_CHUNK="16").start()
    text = transcript(400, f"salt {time.time()}")  # new text: nothing in the embedding cache
    pid, owner = new_project(server.url, retrain_every=0, threshold=0.2)  # low: plenty of suggestions to compare
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "long.txt", "text": text, "unit": "turn"})
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    deadline = time.monotonic() + 120
    while True:
        state = owner.ok("GET", f"/projects/{pid}/jobs/{job['id']}")
        if state["status"] == "running" and 0 < state["done"] < state["total"] // 2:  # far from the end: the kill lands mid-job
            break
        assert state["status"] != "done", "the job finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill()

    server.start()
    done = wait_for_job(owner, pid, job["id"])
    assert done["status"] == "done" and done["attempts"] == 2 and done["done"] == done["total"]
    interrupted = suggestions_by_position(owner, pid)

    ref_pid, ref = new_project(server.url, retrain_every=0, threshold=0.2)
    ref.ok("POST", f"/projects/{ref_pid}/documents/text", 201, json={"name": "long.txt", "text": text, "unit": "turn"})
    ref_job = wait_for_job(ref, ref_pid, ref.ok("POST", f"/projects/{ref_pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert ref_job["status"] == "done" and ref_job["attempts"] == 1
    assert interrupted == suggestions_by_position(ref, ref_pid) and interrupted


def test_admin_token_guards_project_creation(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "admin", LOUPE_ADMIN_TOKEN="s3cret").start()
    body = {"name": "study", "owner": "amira"}
    assert Api(server.url).post("/projects", json=body).status_code == 401
    assert Api(server.url, "wrong").post("/projects", json=body).status_code == 401
    assert Api(server.url, "s3cret").ok("POST", "/projects", 201, json=body)["owner"]["name"] == "amira"
