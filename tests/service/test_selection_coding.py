"""Coding a selection: an `add` decision with exact start/end (the page's coding by selection).
The span is checked against the segment and the document, shows in the document's codings with
its memo, and an undo takes that selection away while the coder's other codings stay."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, new_project

TEXT = "We trusted the board at first. Then the funding stopped and everything changed.\n\nThe volunteers kept going anyway."


@pytest.fixture(scope="module")
def doc(tmp_path_factory, make_app):
    server = make_app(tmp_path_factory.mktemp("selection"))
    pid, owner = new_project(server.url, retrain_every=0)
    d = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "note.txt", "text": TEXT, "unit": "paragraph"})
    segs = owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": d["id"]})
    coder = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    return pid, owner, coder, d["id"], segs


def _spans(api: Api, pid: int, doc_id: int) -> set[tuple[int, int, str, str]]:
    return {(c["start"], c["end"], c["code"], c["coder"]) for c in api.ok("GET", f"/projects/{pid}/documents/{doc_id}/codings")}


def test_a_selection_is_coded_with_its_exact_offsets_and_memo(doc):
    pid, owner, _, doc_id, segs = doc
    first = segs[0]
    start = TEXT.index("the funding")
    end = start + len("the funding stopped")
    entry = owner.ok("POST", f"/projects/{pid}/decisions", 201, json={
        "verdict": "add", "segment_id": first["id"], "code": "power", "start": start, "end": end, "memo": "money is power"})
    assert (entry["span_start"], entry["span_end"]) == (start, end)
    codings = owner.ok("GET", f"/projects/{pid}/documents/{doc_id}/codings")
    mine = [c for c in codings if c["decision_id"] == entry["id"]]
    assert [(c["start"], c["end"], c["code"], c["memo"]) for c in mine] == [(start, end, "power", "money is power")]
    assert TEXT[mine[0]["start"]:mine[0]["end"]] == "the funding stopped"
    # the same client_key with the same selection is the same decision; with another, a conflict
    body = {"verdict": "add", "segment_id": first["id"], "code": "trust", "start": 0, "end": 10, "client_key": "sel-1"}
    a = owner.ok("POST", f"/projects/{pid}/decisions", 201, json=body)
    assert owner.ok("POST", f"/projects/{pid}/decisions", 200, json=body)["id"] == a["id"]
    assert owner.post(f"/projects/{pid}/decisions", json={**body, "end": 12}).status_code == 409


def test_bad_selections_are_refused_with_the_reason(doc):
    pid, owner, _, _, segs = doc
    first, last = segs[0], segs[-1]
    cases = [
        ({"start": 5, "end": 5}, "start < end"),
        ({"start": 5}, "both start and end"),
        ({"start": last["start"], "end": last["end"]}, "does not overlap"),
        ({"start": 0, "end": len(TEXT) + 5}, "past the document's end"),
    ]
    for extra, words in cases:
        r = owner.post(f"/projects/{pid}/decisions", json={"verdict": "add", "segment_id": first["id"], "code": "trust", **extra})
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    r = owner.post(f"/projects/{pid}/decisions", json={"verdict": "reject", "segment_id": first["id"], "code": "trust", "start": 0, "end": 4})
    assert r.status_code == 422 and "'add' only" in r.json()["detail"]


def test_undo_takes_the_selection_away_and_keeps_the_whole_segment_coding(doc):
    pid, _, coder, doc_id, segs = doc
    seg = segs[-1]
    whole = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"verdict": "add", "segment_id": seg["id"], "code": "trust"})
    start = TEXT.index("volunteers")
    sel = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={
        "verdict": "add", "segment_id": seg["id"], "code": "trust", "start": start, "end": start + len("volunteers")})
    both = _spans(coder, pid, doc_id)
    assert {(seg["start"], seg["end"], "trust", "ben"), (start, start + 10, "trust", "ben")} <= both
    coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"verdict": "undo", "undoes": sel["id"]})
    after = {s for s in _spans(coder, pid, doc_id) if s[3] == "ben"}
    assert after == {(seg["start"], seg["end"], "trust", "ben")}
    coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"verdict": "undo", "undoes": whole["id"]})
    assert {s for s in _spans(coder, pid, doc_id) if s[3] == "ben"} == set()
