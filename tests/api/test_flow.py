"""The whole review flow over real HTTP, on SQLite and on PostgreSQL (the issue's bar):
create project -> upload 3 transcripts -> suggestion job, polled -> two coders review 20
suggestions each in blind mode -> agreement -> exports match the ledger."""

from __future__ import annotations

import csv
import io
import json

from tests.api.conftest import TRANSCRIPTS, Api, new_project, wait_for_job


def test_whole_flow(make_server, backend):
    url, name = backend
    server = make_server(url).start()
    pid, owner = new_project(server.url, blind=True, retrain_every=0)
    coders = {}
    for who in ("ben", "cat"):
        made = owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": who})
        assert made["role"] == "coder" and made["token"].startswith("lp_")
        coders[who] = Api(server.url, made["token"])

    docs = []
    for path in TRANSCRIPTS:
        with open(path, "rb") as f:
            docs += owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    assert [d["name"] for d in docs] == [p.name for p in TRANSCRIPTS]
    assert all(d["segments"] > 0 for d in docs)
    stored = owner.ok("GET", f"/projects/{pid}/documents/{docs[0]['id']}")
    assert stored["text"] == TRANSCRIPTS[0].read_text(encoding="utf-8")  # the original text, unchanged
    segs = owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": docs[0]["id"], "limit": 1000})
    assert all(stored["text"][s["start"]:s["end"]] == s["text"] for s in segs)

    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert job["status"] == "queued"
    job = wait_for_job(owner, pid, job["id"])
    assert job["status"] == "done", job["error"]
    assert job["done"] == job["total"] == sum(d["segments"] for d in docs)
    assert job["counts"]["suggestions_new"] >= 20

    decided: dict[str, list[dict]] = {}
    for who, api in coders.items():
        page = api.ok("GET", f"/projects/{pid}/queue", params={"limit": 20})
        assert len(page["items"]) == 20
        prios = [i["suggestion"]["priority"] for i in page["items"]]
        assert prios == sorted(prios)  # most informative first
        decided[who] = []
        for k, item in enumerate(page["items"]):
            s = item["suggestion"]
            assert s["evidence"]["sentence"] and s["model"].startswith("zero-shot") and 0 <= s["score"] <= 1
            body = {"suggestion_id": s["id"], "verdict": "reject" if k % 4 == 0 else "accept", "memo": f"{who} {k}"}
            if who == "cat" and k % 5 == 1:
                body = {"suggestion_id": s["id"], "verdict": "replace", "new_code": "trust/organisational"}
            entry = api.ok("POST", f"/projects/{pid}/decisions", 201, json=body)
            assert entry["suggested_score"] == s["score"] and entry["suggestion_id"] == s["id"]
            decided[who].append(entry)
        # decided suggestions leave that coder's queue
        rest = api.ok("GET", f"/projects/{pid}/queue", params={"limit": 200})
        assert not {i["suggestion"]["id"] for i in rest["items"]} & {d["suggestion_id"] for d in decided[who]}

    # blind mode: a coder sees only their own decisions, and no agreement; the owner sees all
    mine = coders["ben"].ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})
    assert {d["id"] for d in mine} == {d["id"] for d in decided["ben"]}
    assert coders["ben"].get(f"/projects/{pid}/agreement").status_code == 403
    other = decided["cat"][0]["id"]
    assert coders["ben"].get(f"/projects/{pid}/decisions/{other}").status_code == 403
    everything = owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})
    assert len(everything) == 40

    agreement = owner.ok("GET", f"/projects/{pid}/agreement", params={"n_boot": 200})
    assert agreement["coders"] == ["ben", "cat"]
    pooled = agreement["between_coders"]["(pooled)"]
    assert pooled["percent"]["n_pairable"] >= 20  # both coders got the same top of the queue
    assert 0.0 <= pooled["percent"]["value"] <= 1.0
    assert set(agreement["model_vs_coder"]) == {"ben", "cat"}
    assert agreement["model_vs_coder"]["ben"]["(pooled)"]["percent"]["value"] is not None

    # exports match the ledger
    ledger = owner.ok("GET", f"/projects/{pid}/export/ledger", params={"format": "jsonl"})
    rows = [json.loads(line) for line in ledger.splitlines()]
    assert [r["id"] for r in rows] == [d["id"] for d in everything]
    by_id = {d["id"]: d for d in everything}
    for r in rows:
        d = by_id[r["id"]]
        assert (r["verdict"], r["code"], r["new_code"], r["effects"], r["suggestion_id"], r["memo"]) == (
            d["verdict"], d["code"], d["new_code"], d["effects"], d["suggestion_id"], d["memo"])
        assert r["coder"] in ("ben", "cat")
    as_csv = list(csv.DictReader(io.StringIO(owner.ok("GET", f"/projects/{pid}/export/ledger", params={"format": "csv"}))))
    assert [int(r["id"]) for r in as_csv] == [r["id"] for r in rows]

    codings = [json.loads(line) for line in owner.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl"}).splitlines()]
    expected = set()
    for d in everything:
        who = "ben" if d["id"] in {x["id"] for x in decided["ben"]} else "cat"
        for code, applied in d["effects"].items():
            (expected.add if applied else expected.discard)((d["segment_id"], who, code))
    assert {(c["segment_id"], c["coder"], c["code"]) for c in codings if c["value"]} == expected  # value 0: decided, not applied
    assert any(c["code"] == "trust/organisational" and c["coder"] == "cat" for c in codings)
