"""The service's rules, in-process (one app per backend: SQLite, and PostgreSQL under the `postgres`
marker): access, errors, codebook versions, the ledger's semantics, the queue's cursors and
filters, blind coding, retraining."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.api.conftest import (
    TRANSCRIPTS,
    Api,
    new_project,
    postgres_database,
    wait_for_job,
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory, make_app):
    url, drop = postgres_database() if request.param == "postgresql" else (None, lambda: None)
    app = make_app(tmp_path_factory.mktemp("rules"), url, max_upload_mb=0.2)
    yield app
    app.close()
    drop()


@pytest.fixture(scope="module")
def project(server):
    """A project with one transcript, scored, and a coder: (project id, owner api, coder api)."""
    pid, owner = new_project(server.url, retrain_every=0)
    coder = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    with open(TRANSCRIPTS[0], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[0].name, f)})
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "note.txt", "text": "We trusted the board. Funding decided everything."})
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    return pid, owner, coder


def test_health_and_ready(server):
    api = Api(server.url)
    assert api.ok("GET", "/health") == {"status": "ok"}
    ready = api.ok("GET", "/ready")
    assert ready["status"] == "ready" and "MiniLM" in ready["model"]


def test_tokens_and_roles(server, project):
    pid, owner, coder = project
    assert Api(server.url).get(f"/projects/{pid}").status_code == 401
    bad = Api(server.url, "lp_not-a-token").get(f"/projects/{pid}")
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    other_pid, other_owner = new_project(server.url)
    r = other_owner.get(f"/projects/{pid}/queue")
    assert r.status_code == 403 and "not a member" in r.json()["detail"]
    assert coder.post(f"/projects/{pid}/coders", json={"name": "eve"}).status_code == 403
    assert coder.post(f"/projects/{pid}/jobs", json={"kind": "suggest"}).status_code == 403
    assert coder.ok("GET", "/me")["name"] == "ben"
    assert owner.post(f"/projects/{pid}/coders", json={"name": "ben"}).status_code == 409


@pytest.mark.parametrize("path", ["/projects/999999", "/projects/{pid}/documents/999999", "/projects/{pid}/segments/999999",
                                  "/projects/{pid}/suggestions/999999", "/projects/{pid}/decisions/999999", "/projects/{pid}/jobs/999999",
                                  "/projects/{pid}/codebook/versions/99"])
def test_unknown_ids_are_404(project, path):
    pid, owner, _ = project
    r = owner.get(path.format(pid=pid))
    assert r.status_code == 404 and r.json()["error"].endswith("not_found") and "does not exist" in r.json()["detail"]


def test_invalid_bodies_name_the_field(project):
    pid, owner, _ = project
    r = owner.post(f"/projects/{pid}/decisions", json={"verdict": "maybe", "segment_id": "x"})
    body = r.json()
    assert r.status_code == 422 and body["error"] == "invalid_request"
    assert {f["field"] for f in body["fields"]} >= {"body.verdict", "body.segment_id"}
    r = owner.post(f"/projects/{pid}/decisions", json={"verdict": "add", "segment_id": 1})
    assert r.status_code == 422 and "say which code" in r.json()["detail"]
    r = owner.get(f"/projects/{pid}/queue", params={"limit": 0})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "query.limit"


def test_bad_uploads_are_refused_and_store_nothing(server, project, tmp_path):
    pid, owner, _ = project
    before = owner.ok("GET", f"/projects/{pid}/documents")
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("big.txt", b"word " * 100_000)})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("scan.rtf", b"{\\rtf1 ...}")})
    assert r.status_code == 415 and "unsupported file type" in r.json()["detail"]
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("scan.pdf", b"%PDF-1.4 ...")})
    assert r.status_code == 422 and "not a readable PDF" in r.json()["detail"]
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("latin.txt", "Caf\u00e9 na\u00efve".encode("cp1252") + b"\x81\x8d")})
    assert r.status_code == 422 and "latin.txt" in r.json()["detail"]
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("bin.txt", bytes(range(256)) * 4)})
    assert r.status_code == 422
    r = owner.post(f"/projects/{pid}/documents", files={"file": ("bad.csv", b"id,other\n1,x\n")})
    assert r.status_code == 422 and "text" in r.json()["detail"]
    with open(TRANSCRIPTS[0], "rb") as f:
        r = owner.post(f"/projects/{pid}/documents", files={"file": (TRANSCRIPTS[0].name, f)})
    assert r.status_code == 409
    # an explicit encoding makes the cp1252 file readable
    ok = owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": ("cafe.txt", "Caf\u00e9 na\u00efve.".encode("cp1252"))}, data={"encoding": "cp1252"})
    assert owner.ok("GET", f"/projects/{pid}/documents/{ok[0]['id']}")["text"] == "Caf\u00e9 na\u00efve."
    after = owner.ok("GET", f"/projects/{pid}/documents")
    assert [d["id"] for d in after] == [d["id"] for d in before] + [ok[0]["id"]]


def test_codebook_versions(project, tmp_path):
    pid, owner, coder = project
    v1 = owner.ok("GET", f"/projects/{pid}/codebook")
    assert v1["version"] == 1 and any(c["id"] == "trust" for c in v1["content"]["codes"])
    edited = json.loads(json.dumps(v1["content"]))
    edited["codes"].append({"id": "care", "name": "Care", "definition": "Looking after patients and each other."})
    v2 = owner.ok("PUT", f"/projects/{pid}/codebook", json=edited)
    assert v2["version"] == 2
    assert owner.ok("PUT", f"/projects/{pid}/codebook", json=edited)["version"] == 2  # unchanged: no new version
    r = owner.put(f"/projects/{pid}/codebook", json={"name": "x", "codes": [{"id": "a"}]})
    assert r.status_code == 422 and "definition" in r.json()["detail"]
    assert coder.put(f"/projects/{pid}/codebook", json=edited).status_code == 403
    edited["codes"].append({"id": "voice", "name": "Voice", "definition": "Being heard."})
    v3 = owner.ok("POST", f"/projects/{pid}/codebook/file", files={"file": ("book.yaml", yaml.safe_dump(edited).encode())})
    assert v3["version"] == 3
    assert [v["version"] for v in owner.ok("GET", f"/projects/{pid}/codebook/versions")] == [1, 2, 3]
    assert owner.ok("GET", f"/projects/{pid}/codebook/versions/1")["fingerprint"] == v1["fingerprint"]
    r = owner.post(f"/projects/{pid}/codebook/file", files={"file": ("book.yaml", b"name: [unclosed")})
    assert r.status_code == 422
    seg = owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1})[0]["id"]
    d = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg, "code": "voice", "verdict": "add"})
    assert d["codebook_id"] == v3["id"]
    # a new version queues a suggest job: the queue fills again under it
    job = [j for j in owner.ok("GET", f"/projects/{pid}/jobs") if j["kind"] == "suggest"][0]
    assert wait_for_job(owner, pid, job["id"])["counts"]["codebook_version"] == 3
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200})["items"]
    assert items and {i["suggestion"]["codebook_id"] for i in items} == {v3["id"]}


def test_ledger_semantics(project):
    pid, owner, coder = project
    seg = owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 3})[2]["id"]
    a = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg, "code": "power", "verdict": "add", "client_key": "k1"})
    again = coder.ok("POST", f"/projects/{pid}/decisions", 200, json={"segment_id": seg, "code": "power", "verdict": "add", "client_key": "k1"})
    assert again["id"] == a["id"]
    r = coder.post(f"/projects/{pid}/decisions", json={"segment_id": seg, "code": "trust", "verdict": "add", "client_key": "k1"})
    assert r.status_code == 409
    rep = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg, "code": "power", "verdict": "replace", "new_code": "power/funding"})
    assert rep["effects"] == {"power": False, "power/funding": True}
    undo = coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"verdict": "undo", "undoes": rep["id"]})
    assert undo["effects"] == {"power": True, "power/funding": False} and undo["undoes_id"] == rep["id"]
    assert (undo["code"], undo["new_code"]) == ("power", "power/funding")
    assert owner.post(f"/projects/{pid}/decisions", json={"verdict": "undo", "undoes": rep["id"]}).status_code == 404  # not the owner's
    codings = [json.loads(x) for x in owner.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl"}).splitlines()]
    mine = {c["code"] for c in codings if c["segment_id"] == seg and c["coder"] == "ben" and c["value"]}
    assert mine == {"power"}
    history = coder.ok("GET", f"/projects/{pid}/decisions", params={"segment_id": seg})
    assert [h["verdict"] for h in history][-3:] == ["add", "replace", "undo"]  # nothing overwritten


def test_bulk_reports_each_item(project):
    pid, owner, coder = project
    segs = [s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 3})]
    out = coder.ok("POST", f"/projects/{pid}/decisions/bulk", json={"items": [
        {"segment_id": segs[0], "code": "control", "verdict": "add"},
        {"segment_id": segs[1], "code": "no-such-code", "verdict": "add"},
        {"segment_id": 999999, "code": "control", "verdict": "add"},
        {"segment_id": segs[2], "code": "control", "verdict": "reject"},
    ]})
    assert out["stored"] == 2 and out["failed"] == 2
    assert [i["status"] for i in out["items"]] == [201, 422, 404, 201]
    assert out["items"][2]["error"] == "segment_not_found"


def test_queue_cursor_and_filters(project):
    pid, owner, _ = project
    seen, cursor = [], None
    while True:
        page = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 7, **({"cursor": cursor} if cursor else {})})
        seen += [i["suggestion"]["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    everything = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": False})
    assert seen == [i["suggestion"]["id"] for i in everything["items"]] and len(seen) == len(set(seen)) > 7
    trust = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "code": "trust"})["items"]
    assert trust and all(i["suggestion"]["code"].split("/")[0] == "trust" for i in trust)
    high = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "min_score": 0.8})["items"]
    assert all(i["suggestion"]["score"] >= 0.8 for i in high)
    doc = everything["items"][0]["suggestion"]["document_id"]
    by_doc = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "document_id": doc})["items"]
    assert by_doc and all(i["segment"]["document_id"] == doc for i in by_doc)
    r = owner.get(f"/projects/{pid}/queue", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and "cursor" in r.json()["detail"]


def test_evidence_shows_nearest_accepted(project):
    pid, owner, _ = project
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200})["items"]
    by_code: dict[str, list] = {}
    for i in items:
        by_code.setdefault(i["suggestion"]["code"], []).append(i)
    code, group = max(by_code.items(), key=lambda kv: len(kv[1]))
    assert len(group) >= 2
    owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": group[0]["suggestion"]["id"], "verdict": "accept"})
    nxt = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "code": code})["items"]
    shown = [i for i in nxt if i["suggestion"]["code"] == code]
    assert shown and shown[0]["nearest_accepted"][0]["segment_id"] == group[0]["segment"]["id"]


def test_hidden_suggestions_for_independent_coding(server):
    pid, owner = new_project(server.url, blind=True, hide_suggestions=True, retrain_every=0)
    coder = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "a.txt", "text": "We trusted them. They held the money. Nobody led."})
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    wait_for_job(owner, pid, job["id"])
    page = coder.ok("GET", f"/projects/{pid}/queue")
    assert page["items"] and all(i["suggestion"] is None for i in page["items"])
    first = page["items"][0]["segment"]["id"]
    coder.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": first, "code": "trust", "verdict": "add"})
    assert first not in [i["segment"]["id"] for i in coder.ok("GET", f"/projects/{pid}/queue")["items"]]
    owner_page = owner.ok("GET", f"/projects/{pid}/queue")
    assert owner_page["items"] and owner_page["items"][0]["suggestion"] is not None
    assert coder.get(f"/projects/{pid}/suggestions/{owner_page['items'][0]['suggestion']['id']}").status_code == 403


def test_decisions_trigger_a_retrain_that_learns(server):
    pid, owner = new_project(server.url, retrain_every=6)
    with open(TRANSCRIPTS[1], "rb") as f:
        owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (TRANSCRIPTS[1].name, f)})
    wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    everything = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200})["items"]
    codes = [i["suggestion"]["code"] for i in everything]
    busiest = max(set(codes), key=codes.count)  # a head learns a code once it has accepts and rejects
    items = [i for i in everything if i["suggestion"]["code"] == busiest][:3]
    for i in items:  # reject the model's suggestions of this code ...
        owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": i["suggestion"]["id"], "verdict": "reject"})
    suggested = {i["segment"]["id"] for i in items}
    others = [s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000}) if s["id"] not in suggested]
    for seg in others[: 6 - len(items)]:  # ... and apply it where the model did not suggest it
        owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg, "code": busiest, "verdict": "add"})
    jobs = owner.ok("GET", f"/projects/{pid}/jobs")
    retrain = [j for j in jobs if j["kind"] == "retrain"]
    assert len(retrain) == 1, "six decisions with retrain_every=6 queue one retrain job"
    done = wait_for_job(owner, pid, retrain[0]["id"])
    assert done["status"] == "done", done["error"]
    assert done["counts"]["model"].startswith("learned-head") and done["counts"]["decisions_used"] == 6
    rejected = items[0]["suggestion"]
    now = owner.ok("GET", f"/projects/{pid}/suggestions/{rejected['id']}")
    assert now["model"].startswith("learned-head") and now["score"] < rejected["score"]
    # the decision keeps what had been suggested at the time
    entry = owner.ok("GET", f"/projects/{pid}/decisions", params={"segment_id": rejected["segment_id"]})[-1]
    assert entry["suggested_score"] == rejected["score"] and entry["suggested_model"].startswith("zero-shot")


def test_deactivate_and_rotate_tokens(server):
    pid, owner = new_project(server.url)
    made = owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "dee"})
    dee = Api(server.url, made["token"])
    assert dee.ok("GET", "/me")["active"] is True
    assert dee.patch(f"/projects/{pid}/coders/{made['id']}", json={"active": False}).status_code == 403  # owners only
    owner_id = owner.ok("GET", "/me")["id"]
    assert owner.patch(f"/projects/{pid}/coders/{owner_id}", json={"active": False}).status_code == 422
    assert owner.ok("PATCH", f"/projects/{pid}/coders/{made['id']}", json={"active": False})["active"] is False
    assert dee.get("/me").status_code == 401
    owner.ok("PATCH", f"/projects/{pid}/coders/{made['id']}", json={"active": True})
    assert dee.get("/me").status_code == 200
    rotated = owner.ok("PATCH", f"/projects/{pid}/coders/{made['id']}", json={"new_token": True})
    assert rotated["token"].startswith("lp_") and rotated["token"] != made["token"]
    assert dee.get("/me").status_code == 401
    assert Api(server.url, rotated["token"]).ok("GET", "/me")["name"] == "dee"
    assert owner.patch(f"/projects/{pid}/coders/999999", json={"active": False}).status_code == 404


def test_exclusive_codebook_retrains_one_head_and_queues_whole_segments(server):
    book = {"name": "roles", "exclusive": True, "codes": [
        {"id": "trust", "name": "Trust", "definition": "Someone relies on or believes in a partner."},
        {"id": "money", "name": "Money", "definition": "Funding, budgets, contracts and payment."}]}
    pid, owner = new_project(server.url, retrain_every=6, threshold=0.0, codebook=book)
    text = "\n\n".join(["We trusted the board completely.", "The budget was cut in March.", "I believe the coordinator keeps her word.",
                        "Contracts were paid late.", "They rely on us to deliver.", "The grant ran out.", "Nobody doubted the chair.",
                        "Money decided everything."])
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "a.txt", "text": text})
    wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    segments = owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 100})
    assert len(segments) >= 6
    for seg in segments[:6]:
        code = "money" if any(w in seg["text"] for w in ("budget", "Contracts", "grant", "Money")) else "trust"
        owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": seg["id"], "code": code, "verdict": "add"})
    retrain = [j for j in owner.ok("GET", f"/projects/{pid}/jobs") if j["kind"] == "retrain"]
    done = wait_for_job(owner, pid, retrain[0]["id"])
    assert done["status"] == "done", done["error"]
    assert done["counts"]["model"].startswith("learned-exclusive")
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200})["items"]
    order = [i["segment"]["id"] for i in items]
    assert order and order == sorted(order, key=order.index)  # a segment's suggestions come together
    for seg in set(order):  # its most likely code first
        scores = [i["suggestion"]["score"] for i in items if i["segment"]["id"] == seg]
        assert scores == sorted(scores, reverse=True)
