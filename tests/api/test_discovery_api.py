"""Discovery over real HTTP, on SQLite and PostgreSQL: a cluster job, clusters and candidates,
the map, and adopt / merge / dismiss, each recorded, with the adopted code's members queued."""

from __future__ import annotations

from tests.api.conftest import TRANSCRIPTS, Api, new_project, wait_for_job


def test_cluster_job_and_candidate_codes(make_server, backend):
    url, _ = backend
    server = make_server(url).start()
    # Only participants' turns are clustered; at a high threshold some clusters are poorly covered
    # by the seed codebook and so are candidate codes.
    pid, owner = new_project(server.url, retrain_every=0, threshold=0.95)
    for path in TRANSCRIPTS:
        with open(path, "rb") as f:
            owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})
    segments = owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000})
    n_segments = sum(s["role"] == "data" for s in segments)  # header lines and interviewer turns are not clustered
    assert 0 < n_segments < len(segments)
    assert owner.post(f"/projects/{pid}/jobs", json={"kind": "cluster", "params": {"method": "spectral"}}).status_code == 422
    assert owner.get(f"/projects/{pid}/clusters").status_code == 404  # no run yet

    params = {"method": "kmeans", "k": 4, "coverage_threshold": 1.0, "seed": 3}
    job = wait_for_job(owner, pid, owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "cluster", "params": params})["id"])
    assert job["status"] == "done", job["error"]
    assert job["counts"]["clusters"] == 4 and job["counts"]["method"] == "kmeans"
    listed = owner.ok("GET", f"/projects/{pid}/clusters")
    assert listed["run"]["id"] == job["counts"]["run_id"] and listed["run"]["params"]["k"] == 4
    clusters = listed["clusters"]
    assert sum(c["size"] for c in clusters) == n_segments  # k-means leaves no noise
    assert all(c["keywords"] and c["representatives"] and 0 <= c["coverage"] <= 1 for c in clusters)
    candidates = owner.ok("GET", f"/projects/{pid}/clusters/candidates")["clusters"]
    assert candidates and all(c["candidate"] and c["name"] and c["definition"] for c in candidates)
    points = owner.ok("GET", f"/projects/{pid}/clusters/map.json")["points"]
    assert len(points) == n_segments and {p["cluster"] for p in points} == {0, 1, 2, 3}
    png = owner.get(f"/projects/{pid}/clusters/map.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"

    coder = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    first = candidates[0]  # adopt a candidate; merging and dismissing work on any open cluster
    second, third = [c for c in clusters if c["id"] != first["id"]][:2]
    assert coder.post(f"/projects/{pid}/clusters/{first['id']}/adopt", json={}).status_code == 403
    assert owner.post(f"/projects/{pid}/clusters/999999/dismiss", json={}).status_code == 404

    adopted = owner.ok("POST", f"/projects/{pid}/clusters/{first['id']}/adopt", json={"name": "Partnership fatigue"})
    assert adopted["codebook"]["version"] == 2 and adopted["suggestions"] == first["size"]
    assert adopted["action"]["code"] == "partnership-fatigue"
    book = owner.ok("GET", f"/projects/{pid}/codebook")["content"]
    new = next(c for c in book["codes"] if c["id"] == "partnership-fatigue")
    assert new["examples"] == [r["text"].strip()[:500] for r in first["representatives"]]
    assert owner.post(f"/projects/{pid}/clusters/{first['id']}/adopt", json={}).status_code == 409
    queue = coder.ok("GET", f"/projects/{pid}/queue", params={"code": "partnership-fatigue", "limit": 200})
    detail = owner.ok("GET", f"/projects/{pid}/clusters/{first['id']}")
    assert {i["suggestion"]["segment_id"] for i in queue["items"]} == set(detail["members"])

    merged = owner.ok("POST", f"/projects/{pid}/clusters/{second['id']}/merge", json={"code": "trust", "note": "all about trust"})
    assert merged["codebook"]["version"] == 3
    trust = next(c for c in owner.ok("GET", f"/projects/{pid}/codebook")["content"]["codes"] if c["id"] == "trust")
    assert {r["text"].strip()[:500] for r in second["representatives"]} <= set(trust["examples"])
    assert owner.post(f"/projects/{pid}/clusters/{third['id']}/merge", json={"code": "nope"}).status_code == 422
    owner.ok("POST", f"/projects/{pid}/clusters/{third['id']}/dismiss", json={"note": "small talk"})

    actions = coder.ok("GET", f"/projects/{pid}/cluster-actions")
    assert [(a["cluster_id"], a["action"], a["code"], a["note"]) for a in actions] == [
        (first["id"], "adopt", "partnership-fatigue", None), (second["id"], "merge", "trust", "all about trust"),
        (third["id"], "dismiss", None, "small talk"),
    ]
    statuses = {c["id"]: c["status"] for c in owner.ok("GET", f"/projects/{pid}/clusters")["clusters"]}
    assert (statuses[first["id"]], statuses[second["id"]], statuses[third["id"]]) == ("adopted", "merged", "dismissed")
