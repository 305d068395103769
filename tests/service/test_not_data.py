"""Text that is not data stays in the document, with exact offsets, but is not coded: the header
lines of a transcript and the interviewer's turns, even in a two-turn file."""

from __future__ import annotations

from tests.api.conftest import new_project, wait_for_job

SHORT = (
    "Interview P23 - Volunteer coordinator, 4 May 2022\n"
    "Duration: 12 min\n"
    "\n"
    "Interviewer: How do you get on with the hospital's discharge team?\n"
    "P23: We rely on them completely, and they pay for our drivers, so we rarely say no to anything they ask.\n"
)


def test_headers_and_interviewer_turns_are_kept_but_not_coded(make_app, tmp_path):
    app = make_app(tmp_path / "not-data")
    pid, owner = new_project(app.url, retrain_every=0, threshold=0.0)
    doc = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "p23.txt", "text": SHORT})
    segments = owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": doc["id"]})
    roles = {s["text"]: s["role"] for s in segments}
    for s in segments:
        assert SHORT[s["start"]:s["end"]] == s["text"]
    assert roles["Interview P23 - Volunteer coordinator, 4 May 2022"] == "metadata"
    assert roles["Duration: 12 min"] == "metadata"
    interviewer = [s for s in segments if s["speaker"] == "Interviewer"]
    assert interviewer and all(s["role"] == "interviewer" for s in interviewer)
    answer = [s for s in segments if s["speaker"] == "P23"]
    assert answer and all(s["role"] == "data" for s in answer)

    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    # threshold 0: every data segment gets suggestions, and nothing else does
    queued = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": "false"})["items"]
    assert queued and {i["segment"]["role"] for i in queued} == {"data"}
    assert {i["segment"]["id"] for i in queued} == {s["id"] for s in answer}
