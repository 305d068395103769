"""Consolidating codes over real HTTP: merging two codes and splitting them back loses no
decision and keeps the ledger's history readable; moving a code re-maps its codings; themes
group codes and carry memos."""

from __future__ import annotations

import json

from tests.api.conftest import Api, new_project

TEXT = ("Interviewer: Tell me about the partners.\nP01: I trust Sarah, she calls back.\n"
        "P01: The trust board keeps its promises.\nP01: We built it slowly over years.\nP01: Money talks here.\n")


def _codings(api: Api, pid: int) -> set[tuple[int, str, str]]:
    text = api.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl"})
    return {(r["segment_id"], r["coder"], r["code"]) for r in map(json.loads, text.splitlines()) if r["value"]}


def test_merge_then_split_back_loses_nothing(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "themes").start()
    pid, owner = new_project(server.url, retrain_every=0)
    ben = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "p01.txt", "text": TEXT})
    segs = owner.ok("GET", f"/projects/{pid}/segments")
    s = [x["id"] for x in segs if x["speaker"] == "P01"]
    for api, seg, code in ((owner, s[0], "trust/personal"), (owner, s[1], "trust/organisational"), (ben, s[0], "trust/personal"),
                           (ben, s[1], "trust/personal"), (owner, s[3], "power/funding")):
        api.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg, "verdict": "add", "code": code})
    ben.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": s[2], "verdict": "add", "code": "trust/organisational"})
    last = ben.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": s[2], "verdict": "reject", "code": "trust/organisational"})
    before_codings = _codings(owner, pid)
    before_ledger = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})

    merged = owner.ok("POST", f"/projects/{pid}/codebook/merge", 200, json={
        "codes": ["trust/personal", "trust/organisational"], "into": {"name": "Kinds of trust", "id": "kinds", "parent": "trust"}})
    assert merged["code"] == "trust/kinds" and merged["codebook_version"] == 2 and merged["remapped"] == 4
    assert _codings(owner, pid) == {(seg, who, "trust/kinds" if code.startswith("trust/") else code) for seg, who, code in before_codings}
    book = owner.ok("GET", f"/projects/{pid}/codebook")["content"]
    trust = next(c for c in book["codes"] if c["id"] == "trust")
    assert [c["id"] for c in trust["children"]] == ["built-over-time", "policy-goal", "kinds"]

    split = owner.ok("POST", f"/projects/{pid}/codebook/split", 200, json={
        "code": "trust/kinds", "into": [{"id": "personal", "name": "Personal trust"}, {"id": "organisational", "name": "Organisational trust"}]})
    assert split["codes"] == ["trust/personal", "trust/organisational"] and split["remapped"] == 4 and split["codebook_version"] == 3
    assert _codings(owner, pid) == before_codings  # every coding is back where it was
    book = owner.ok("GET", f"/projects/{pid}/codebook")["content"]
    assert "kinds" not in [c["id"] for c in next(c for c in book["codes"] if c["id"] == "trust")["children"]]

    after = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})
    assert after[: len(before_ledger)] == before_ledger  # nothing changed or lost; the history reads in order
    remaps = after[len(before_ledger):]
    assert all(e["verdict"] == "remap" and e["memo"].startswith(("merge trust/personal, trust/organisational -> trust/kinds", "split trust/kinds"))
               for e in remaps) and len(remaps) == 8
    assert last["id"] in {e["id"] for e in after}

    moved = owner.ok("POST", f"/projects/{pid}/codebook/move", 200, json={"code": "power/funding", "parent": "control"})
    assert moved["code"] == "control/funding" and moved["remapped"] == 1
    assert (s[3], "owner", "control/funding") in _codings(owner, pid)
    assert owner.post(f"/projects/{pid}/codebook/move", json={"code": "control", "parent": "control/funding"}).status_code == 422
    assert ben.post(f"/projects/{pid}/codebook/merge", json={"codes": ["trust", "power"], "into": {"name": "x"}}).status_code == 403

    theme = owner.ok("POST", f"/projects/{pid}/themes", 201, json={"name": "Relational trust", "definition": "Trust carried by people.",
                                                                   "codes": ["trust/personal", "trust/built-over-time"]})
    assert owner.post(f"/projects/{pid}/themes", json={"name": "x", "codes": ["nope"]}).status_code == 422
    owner.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "theme", "target": str(theme["id"]), "text": "From the pilot interviews."})
    assert [t["codes"] for t in ben.ok("GET", f"/projects/{pid}/themes")] == [["trust/personal", "trust/built-over-time"]]
