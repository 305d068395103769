"""Server-side charts (issue 24): code frequency by document or attribute, co-occurrence, as PNG
endpoints; and the report shows them with each agreement value's n and small-n flag."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.api.conftest import TRANSCRIPTS, Api, new_project, wait_for_job


@pytest.fixture(scope="module")
def project(make_app, tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("charts"))
    pid, owner = new_project(app.url, retrain_every=0)
    ben = Api(app.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    docs = []
    for path in TRANSCRIPTS[:2]:
        with open(path, "rb") as f:
            docs.append(owner.ok("POST", f"/projects/{pid}/documents", 201, files={"file": (path.name, f)})[0]["id"])
    for doc, site in zip(docs, ("North", "South"), strict=True):
        owner.ok("PATCH", f"/projects/{pid}/documents/{doc}/attributes", json={"site": site})
    job = owner.ok("POST", f"/projects/{pid}/jobs", 202, json={"kind": "suggest"})
    assert wait_for_job(owner, pid, job["id"])["status"] == "done"
    items = owner.ok("GET", f"/projects/{pid}/queue", params={"limit": 200, "evidence": False})["items"]
    for api in (owner, ben):
        body = [{"suggestion_id": i["suggestion"]["id"], "verdict": "accept" if n % 4 else "reject"} for n, i in enumerate(items[:12])]
        assert api.ok("POST", f"/projects/{pid}/decisions/bulk", json={"items": body})["failed"] == 0
    return pid, owner


def _png(r) -> Image.Image:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(r.content))


def test_frequency_and_cooccurrence_pngs(project):
    pid, owner = project
    by_doc = _png(owner.get(f"/projects/{pid}/charts/frequency.png"))
    by_site = _png(owner.get(f"/projects/{pid}/charts/frequency.png", params={"by": "attribute", "attribute": "document:site", "codes": "all"}))
    co = _png(owner.get(f"/projects/{pid}/charts/cooccurrence.png", params={"window": 1}))
    assert by_doc.width > 500 and by_site.height > by_doc.height  # every code gets a bar: the figure grows
    assert co.width > 300 and co.height > 300
    bad = owner.get(f"/projects/{pid}/charts/frequency.png", params={"by": "attribute"})
    assert bad.status_code == 422 and bad.json()["error"]


def test_report_has_charts_and_flags_small_n(project):
    pid, owner = project
    html = owner.ok("GET", f"/projects/{pid}/report.html", params={"n_boot": 50})
    assert "<h2>Charts</h2>" in html and html.count("data:image/png;base64,") >= 3
    assert "pairable units / values" in html and "small n:" in html  # 12 decided suggestions: small samples, flagged
