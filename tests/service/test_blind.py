"""Blind mode, in-process: a coder sees only their own work, on every read the API has.

A blind project holds two coders' work (decisions with memos, an added coding, memos on the
project, a code and a document). Every GET operation in the app's own OpenAPI document (so a new
route is walked without editing this test), and the matrix query, is called as one coder; no
answer may carry the other coder's memo text, decision memos, decision ids, codings, coder id or
name (their name may appear only in the project's list of coders, which shows who codes, not what).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest

from tests.api.conftest import Api, new_project, wait_for_job

TEXT = ("Interviewer: How did trust change?\n\n"
        "P1: We trusted the council at first. Then the funding was cut and nobody told us why.\n\n"
        "P1: The volunteers kept going anyway; they held the whole service together.\n\n"
        "P1: Our board asked for a partnership agreement so that decisions were shared.\n")
BEN = "benedikt-zq"
SECRETS = ("BEN-PRIVATE-MEMO-7731", "BEN-DECISION-NOTE-5519", "BEN-CODE-MEMO-2207", "BEN-DOC-MEMO-8843")


@pytest.fixture(scope="module")
def blind(tmp_path_factory, make_app) -> dict[str, Any]:
    app = make_app(tmp_path_factory.mktemp("blind"))
    pid, owner = new_project(app.url, blind=True, retrain_every=0, threshold=0.0)
    ana_row = owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ana-qx"})
    ben_row = owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": BEN})
    ana, ben = Api(app.url, ana_row["token"]), Api(app.url, ben_row["token"])
    doc = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "p1.txt", "text": TEXT})
    owner.ok("PATCH", f"/projects/{pid}/documents/{doc['id']}/attributes", 200, json={"sector": "NHS"})
    wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    owner.ok("POST", f"/projects/{pid}/themes", 201, json={"name": "relationships"})
    code_paths = ["trust", "leadership/getting-things-done"]  # codes of the default seed codebook

    ben_decisions: list[int] = []
    ben_items = ben.ok("GET", f"/projects/{pid}/queue", params={"limit": 4})["items"]
    for item in ben_items[:2]:
        d = ben.ok("POST", f"/projects/{pid}/decisions", 201,
                   json={"suggestion_id": item["suggestion"]["id"], "verdict": "accept", "memo": SECRETS[1]})
        ben_decisions.append(d["id"])
    segments = owner.ok("GET", f"/projects/{pid}/segments")
    only_ben = segments[-1]["id"]  # a segment Ben codes with a code nobody else gives it
    ben_code = code_paths[-1]
    d = ben.ok("POST", f"/projects/{pid}/decisions", 201, json={"segment_id": only_ben, "code": ben_code, "verdict": "add", "memo": SECRETS[1]})
    ben_decisions.append(d["id"])
    ben_memos = [
        ben.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "project", "target": "", "text": SECRETS[0]})["id"],
        ben.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "code", "target": code_paths[0], "text": SECRETS[2]})["id"],
        ben.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "document", "target": str(doc["id"]), "text": SECRETS[3]})["id"],
    ]
    ana_items = ana.ok("GET", f"/projects/{pid}/queue", params={"limit": 4})["items"]
    ana_decision = ana.ok("POST", f"/projects/{pid}/decisions", 201,
                          json={"suggestion_id": ana_items[0]["suggestion"]["id"], "verdict": "accept", "memo": "ana's own note"})
    ana_memo = ana.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "project", "target": "", "text": "ana's memo"})
    return {"pid": pid, "owner": owner, "ana": ana, "ben": ben, "ben_id": ben_row["id"], "ana_id": ana_row["id"], "doc": doc["id"],
            "segment": only_ben, "ben_code": ben_code, "ben_decisions": ben_decisions, "ben_memos": ben_memos,
            "ana_decision": ana_decision["id"], "ana_memo": ana_memo["id"], "suggestion": ana_items[0]["suggestion"]["id"],
            "code_paths": code_paths}


def _texts(response: Any) -> list[str]:
    """The answer as text; a zip archive (.qdpx) as the text of each of its members."""
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as z:
            return [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    return [response.content.decode("utf-8", "replace")]


def _leaks(node: Any, b: dict[str, Any], path: str = "") -> list[str]:
    """Ben's work in a JSON answer: his coder id, his decision ids, his coding of his segment."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("coder_id") == b["ben_id"]:
            found.append(f"{path}: coder_id of the other coder")
        if node.get("decision_id") in b["ben_decisions"] or ("verdict" in node and node.get("id") in b["ben_decisions"]):
            found.append(f"{path}: the other coder's decision")
        if node.get("segment_id") == b["segment"] and node.get("code") == b["ben_code"] and "coder" in node:
            found.append(f"{path}: the other coder's coding")
        for k, v in node.items():
            found += _leaks(v, b, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _leaks(v, b, f"{path}[{i}]")
    return found


def _path_values(b: dict[str, Any]) -> dict[str, Any]:
    return {"project_id": b["pid"], "document_id": b["doc"], "segment_id": b["segment"], "suggestion_id": b["suggestion"],
            "decision_id": b["ben_decisions"][0], "job_id": 1, "cluster_id": 1, "version": 1, "theme_id": 1,
            "coder_id": b["ben_id"], "speaker": "P1"}


def test_every_get_shows_a_blind_coder_only_their_own_work(blind):
    b, ana = blind, blind["ana"]
    spec = ana.client.get("/openapi.json").json()
    values = _path_values(b)
    calls: list[tuple[str, dict[str, Any]]] = []
    for template, ops in spec["paths"].items():
        if "get" not in ops:
            continue
        names = re.findall(r"\{(\w+)\}", template)
        missing = [n for n in names if n not in values]
        assert not missing, f"{template}: give this test a value for {missing} (an id whose answer could hold the other coder's work)"
        path = template.format(**{n: values[n] for n in names})
        query_names = {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}
        calls.append((path, {}))
        if "coder_id" in query_names:
            calls.append((path, {"coder_id": b["ben_id"]}))
        if "target_kind" in query_names:
            calls.append((path, {"target_kind": "code", "target": b["code_paths"][0]}))
        if "format" in query_names:
            calls.append((path, {"format": "json"}))
    answered = 0
    for path, params in calls:
        r = ana.get(path, params=params)
        assert r.status_code < 500, f"GET {path} {params} -> {r.status_code}: {r.text[:300]}"
        answered += r.status_code == 200
        texts = _texts(r)
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, f"GET {path} {params} shows the other coder's text {secret!r}"
            if not path.endswith("/coders"):
                assert BEN not in text, f"GET {path} {params} names the other coder"
        if r.headers.get("content-type", "").startswith("application/json"):
            leaks = _leaks(r.json(), b)
            assert not leaks, f"GET {path} {params}: {leaks[:3]}"
    assert answered >= 20, f"only {answered} of {len(calls)} reads answered 200: the walk did not reach the handlers"
    matrix = ana.ok("POST", f"/projects/{b['pid']}/matrix", json={"rows": {"codes": "all"}, "cols": {"attribute": "document:sector"}})
    assert not _leaks(matrix, b) and all(s not in json.dumps(matrix) for s in SECRETS)


def test_the_other_coders_decision_and_memos_are_refused_directly(blind):
    b, ana = blind, blind["ana"]
    pid = b["pid"]
    assert ana.get(f"/projects/{pid}/decisions/{b['ben_decisions'][0]}").status_code == 403
    assert ana.get(f"/projects/{pid}/decisions", params={"coder_id": b["ben_id"]}).status_code == 403
    memos = ana.ok("GET", f"/projects/{pid}/memos")
    assert [m["id"] for m in memos] == [b["ana_memo"]]
    # the owner sees both coders' memos
    assert set(b["ben_memos"]) | {b["ana_memo"]} <= {m["id"] for m in b["owner"].ok("GET", f"/projects/{pid}/memos")}


def test_a_blind_coder_cannot_revise_another_coders_memo(blind):
    b, ana = blind, blind["ana"]
    pid = b["pid"]
    r = ana.post(f"/projects/{pid}/memos", json={"target_kind": "project", "target": "", "text": "overwritten", "replaces": b["ben_memos"][0]})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert SECRETS[0] not in r.text
    own = ana.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "project", "target": "", "text": "ana's revision", "replaces": b["ana_memo"]})
    assert own["replaces_id"] == b["ana_memo"]
    # nothing of Ben's was touched: the owner still reads his memo, unrevised
    texts = [m["text"] for m in b["owner"].ok("GET", f"/projects/{pid}/memos") if m["replaces_id"] == b["ben_memos"][0]]
    assert texts == []


def test_a_blind_coders_qdpx_holds_only_their_memos_and_codings(blind):
    b = blind
    r = b["ana"].get(f"/projects/{b['pid']}/export.qdpx")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        qde = z.read("project.qde").decode()
    assert "ana&apos;s memo" in qde or "ana's memo" in qde
    assert all(s not in qde for s in SECRETS) and BEN not in qde
    owner_qde = zipfile.ZipFile(io.BytesIO(b["owner"].get(f"/projects/{b['pid']}/export.qdpx").content)).read("project.qde").decode()
    assert SECRETS[0] in owner_qde and BEN in owner_qde
