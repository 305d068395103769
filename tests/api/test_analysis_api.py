"""Memos, attributes and the matrix query over real HTTP (the bar's matrix test): the sample
transcripts with speaker attributes from a CSV, coded by accepting suggestions through the API,
then top-level codes x speaker sector, checked cell by cell against a direct fold of the ledger."""

from __future__ import annotations

import csv
import io
import json

from tests.api.conftest import TRANSCRIPTS, new_project, wait_for_job

SECTORS = {"P01": "NHS", "P05": "voluntary", "P06": "NHS", "Interviewer": "research"}


def test_matrix_query_matches_the_ledger(make_server, tmp_path):
    server = make_server(data_dir=tmp_path / "matrix").start()
    pid, owner = new_project(server.url, retrain_every=0, threshold=0.3)
    for path in TRANSCRIPTS:
        with open(path, "rb") as f:
            owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    sheet = "speaker,sector,years\n" + "".join(f"{k},{v},{n}\n" for n, (k, v) in enumerate(SECTORS.items()))
    assert owner.ok("POST", f"/projects/{pid}/attributes/csv", 200, data={"scope": "speaker"}, files={"file": ("s.csv", sheet)})["rows"] == 4
    bad = owner.post(f"/projects/{pid}/attributes/csv", data={"scope": "document"}, files={"file": ("d.csv", "document,site\nnope.txt,North\n")})
    assert bad.status_code == 422 and "no document named 'nope.txt'" in bad.json()["detail"]
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})["id"])
    assert job["status"] == "done", job["error"]
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 40})["items"]
    for k, item in enumerate(items):
        owner.ok("POST", f"/projects/{pid}/decisions", 201, json={"suggestion_id": item["suggestion"]["id"], "verdict": "reject" if k % 4 == 0 else "accept"})

    query = {"rows": {"codes": "top"}, "cols": {"attribute": "speaker:sector"}}
    result = owner.ok("POST", f"/projects/{pid}/matrix", 200, json=query)

    # the same from the ledger, directly
    state: dict[tuple[int, int], dict[str, bool]] = {}
    for e in owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000}):
        state.setdefault((e["segment_id"], e["coder_id"]), {}).update(e["effects"])
    applied: dict[int, set[str]] = {}
    for (sid, _), codes in state.items():
        applied.setdefault(sid, set()).update(c for c, on in codes.items() if on)
    speaker = {s["id"]: s["speaker"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000})}
    tops = [c["id"] for c in owner.ok("GET", f"/projects/{pid}/codebook")["content"]["codes"]]
    sectors = sorted({SECTORS[speaker[s]] for s, cs in applied.items() if cs and speaker[s] in SECTORS})
    assert result["rows"] == tops and result["cols"] == [f"speaker:sector={v}" for v in sectors]
    total = 0
    for i, top in enumerate(tops):
        for j, sector in enumerate(sectors):
            expected = {s for s, cs in applied.items() if SECTORS.get(speaker[s]) == sector and any(c == top or c.startswith(top + "/") for c in cs)}
            assert result["counts"][i][j] == len(expected), (top, sector)
            assert {p["segment_id"] for p in result["passages"].get(f"{i},{j}", [])} == expected
            total += len(expected)
    assert total > 0

    as_csv = list(csv.reader(io.StringIO(owner.post(f"/projects/{pid}/matrix", params={"format": "csv"}, json=query).text)))
    assert as_csv[0][1:] == result["cols"] and [int(x) for x in as_csv[1][1:]] == result["counts"][0]
    png = owner.post(f"/projects/{pid}/matrix", params={"format": "png"}, json=query)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert owner.post(f"/projects/{pid}/matrix", json={"rows": {"codes": ["nope"]}, "cols": query["cols"]}).status_code == 422

    counts = owner.ok("GET", f"/projects/{pid}/code-counts")
    by = {c["code"]: c for c in counts["codes"]}
    for top in tops:
        assert by[top]["segments"] == len({s for s, cs in applied.items() if any(c == top or c.startswith(top + "/") for c in cs)})
    co = counts["cooccurrence"]
    k = co["codes"].index(tops[0])
    assert co["counts"][k][k] == by[tops[0]]["segments"]

    # themes and code groups as rows; agreement as the cell measure
    owner.ok("POST", f"/projects/{pid}/themes", 201, json={"name": "Relations", "codes": ["trust", "power"]})
    by_theme = owner.ok("POST", f"/projects/{pid}/matrix", 200, json={"rows": {"themes": "all"}, "cols": query["cols"]})
    by_group = owner.ok("POST", f"/projects/{pid}/matrix", 200, json={"rows": {"groups": {"Relations": ["trust", "power"]}}, "cols": query["cols"]})
    assert by_theme["counts"] == by_group["counts"]
    for j, sector in enumerate(sectors):
        assert by_theme["counts"][0][j] == len({s for s, cs in applied.items() if SECTORS.get(speaker[s]) == sector
                                                 and any(c.split("/")[0] in ("trust", "power") for c in cs)})
    agreement = owner.ok("POST", f"/projects/{pid}/matrix", 200, json={**query, "measure": "agreement"})
    assert all(v is None for row in agreement["counts"] for v in row)  # one coder: nothing to agree on
    assert owner.post(f"/projects/{pid}/matrix", json={"rows": {"themes": ["nope"]}, "cols": query["cols"]}).status_code == 422

    # attributes filter the queue, the exports and agreement too
    nhs = [s for s, who in speaker.items() if SECTORS.get(who) == "NHS"]
    page = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "attribute": "speaker:sector=NHS"})["items"]
    assert page and all(i["segment"]["id"] in nhs for i in page)
    coded = owner.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl", "attribute": "speaker:sector=NHS"})
    assert {r["segment_id"] for r in map(json.loads, coded.splitlines()) if r["value"]} == {s for s, cs in applied.items() if cs and s in nhs}
    ag = owner.ok("GET", f"/projects/{pid}/agreement", params={"attribute": "speaker:sector=voluntary", "n_boot": 0})
    assert ag["units"] == len({e["segment_id"] for e in owner.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})
                               if SECTORS.get(speaker[e["segment_id"]]) == "voluntary"})
    assert owner.get(f"/projects/{pid}/queue", params={"attribute": "sector=NHS"}).status_code == 422

    first = owner.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "code", "target": "trust", "text": "Trust splits into personal and organisational."})
    second = owner.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "code", "target": "trust", "text": "Added: built over time.", "replaces": first["id"]})
    history = owner.ok("GET", f"/projects/{pid}/memos", params={"target_kind": "code", "target": "trust"})
    assert [(m["id"], m["replaces_id"]) for m in history] == [(first["id"], None), (second["id"], first["id"])]
    assert owner.post(f"/projects/{pid}/memos", json={"target_kind": "code", "target": "nope", "text": "x"}).status_code == 422
