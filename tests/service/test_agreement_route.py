"""One codings table (issue 24): `GET /agreement` and `loupe agree` on `GET /export/codings` give the
same values and, for the same seed, the same intervals; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scripts.cli import app as cli
from tests.api.conftest import TRANSCRIPTS, Api, new_project, postgres_database, wait_for_job

METRICS = ["percent", "cohen", "krippendorff", "gwet"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory, make_app):
    url, drop = postgres_database() if request.param == "postgresql" else (None, lambda: None)
    app = make_app(tmp_path_factory.mktemp("agreement"), url)
    yield app
    app.close()
    drop()


@pytest.fixture(scope="module")
def decided(server):
    """Two coders decide the model's suggestions on the three sample transcripts: mostly alike, some rejections,
    some suggestions only one of them decided."""
    pid, owner = new_project(server.url, retrain_every=0)
    ben = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    for path in TRANSCRIPTS:
        with open(path, "rb") as f:
            owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": False})["items"]
    assert len(items) >= 30
    mine, his = [], []
    for i, item in enumerate(items):
        verdict = "reject" if i % 3 == 0 else "accept"
        mine.append({"suggestion_id": item["suggestion"]["id"], "verdict": verdict})
        if i % 11 == 5:
            continue  # only the owner decided this one
        flipped = {"accept": "reject", "reject": "accept"}[verdict] if i % 7 == 0 else verdict
        his.append({"suggestion_id": item["suggestion"]["id"], "verdict": flipped})
    for api, body in ((owner, mine), (ben, his)):
        out = api.ok("POST", f"/projects/{pid}/decisions/bulk", json={"items": body})
        assert out["failed"] == 0
    return pid, owner


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_api_and_loupe_agree_on_the_export_give_one_answer(decided, tmp_path, fmt):
    pid, owner = decided
    api = owner.ok("GET", f"/projects/{pid}/agreement", params={"metrics": METRICS, "n_boot": 200, "seed": 3})
    r = owner.get(f"/projects/{pid}/export/codings", params={"format": fmt})
    assert r.status_code == 200, r.text
    path = tmp_path / f"codings.{fmt}"
    path.write_bytes(r.content)
    out = tmp_path / "out"
    args = ["agree", str(path), "--bootstrap", "200", "--seed", "3", "-o", str(out)] + [a for m in METRICS for a in ("-m", m)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    local = json.loads((out / "agreement.json").read_text())["per_code"]
    between = api["between_coders"]
    shared = [c for c in between if c in local]
    assert "(pooled)" in shared and len(shared) >= 3, (list(between), list(local))
    assert set(local) <= set(between)  # the API also lists codes nobody decided
    compared = 0
    for code in shared:
        for m in METRICS:
            a, b = between[code][m], local[code][m]
            for key in ("value", "ci_low", "ci_high", "n_units", "n_pairable", "n_values", "small_n", "interval_method"):
                assert a[key] == pytest.approx(b[key], abs=1e-12) if isinstance(a[key], float) else a[key] == b[key], (code, m, key, a, b)
            compared += 1
    pooled = between["(pooled)"]["krippendorff"]
    assert pooled["value"] is not None and pooled["interval_method"] == "percentile bootstrap" and pooled["n_pairable"] >= 20
    assert compared >= 12


def test_export_holds_every_decision_with_rejections(decided):
    pid, owner = decided
    rows = [json.loads(x) for x in owner.ok("GET", f"/projects/{pid}/export/codings", params={"format": "jsonl"}).splitlines()]
    assert {r["value"] for r in rows} == {0, 1}
    assert {"unit", "coder", "code", "value", "start", "end", "document"} <= set(rows[0])
    applied = [r for r in rows if r["value"] == 1]
    assert all(r["start"] is not None and r["end"] > r["start"] for r in applied)
    assert all(r["start"] is None for r in rows if r["value"] == 0)
    ledger = owner.get(f"/projects/{pid}/export/ledger", params={"format": "parquet"})
    assert ledger.status_code == 200 and ledger.content[:4] == b"PAR1"
    assert ledger.headers["content-type"] == "application/vnd.apache.parquet"


def test_estimates_carry_n_and_the_small_n_flag(decided):
    pid, owner = decided
    ag = owner.ok("GET", f"/projects/{pid}/agreement", params={"n_boot": 100, "weights": "linear"})
    assert ag["small_n_rule"] == {"min_units": 20, "min_minority": 2} and ag["weights"] == "linear"
    estimates = [e for per in ag["between_coders"].values() for e in per.values()]
    assert all({"n_pairable", "n_values", "n_minority", "small_n", "interval_method"} <= set(e) for e in estimates)
    small = [e for e in estimates if e["small_n"] and e["value"] is not None]
    assert small and all(e["small_n_reason"] for e in small)
    assert all(e["ci_low"] is None or e["ci_low"] < e["ci_high"] or e["value"] in (0.0, 1.0) for e in small)
    assert owner.get(f"/projects/{pid}/agreement", params={"weights": "cubic"}).status_code == 422
