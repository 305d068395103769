"""Bad input of every kind gets a 4xx with the one error body, never a 5xx (in-process):
bodies the framework cannot parse (invalid UTF-8, 50,000 levels of nesting), a method a path does
not answer, control characters in names (refused at input) and in stored names and values (the
.qdpx writer strips what XML cannot hold), cluster sizes larger than the project, and the OpenAPI
document declaring those answers."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tests.api.conftest import Api, new_project


@pytest.fixture(scope="module")
def app(tmp_path_factory, make_app):
    return make_app(tmp_path_factory.mktemp("errors"))


@pytest.fixture(scope="module")
def project(app):
    pid, owner = new_project(app.url, retrain_every=0)
    doc = owner.ok("POST", f"/projects/{pid}/documents/text", 201,
                   json={"name": "p1.txt", "text": "We trusted them.\x01 They held the money.\n\nNobody led.\x00 The board met."})
    return pid, owner, doc["id"]


def _multipart(filename: str, data: bytes) -> bytes:
    """A multipart body with the file name as raw UTF-8 bytes, as a careless client would send it."""
    return (b'--xyzzy\r\nContent-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n--xyzzy--\r\n")


def _shape(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert set(body) >= {"error", "detail"} and isinstance(body["detail"], str) and body["detail"], body
    return body


def test_unparsable_bodies_and_wrong_methods_get_the_error_shape(app):
    api = Api(app.url)
    json_type = {"content-type": "application/json"}
    body = _shape(api.post("/projects", content=b'{"name": "\xff\xfe", "owner": "a"}', headers=json_type), 400)
    assert "UTF-8" in body["detail"]
    body = _shape(api.post("/projects", content=b"[" * 50_000 + b"]" * 50_000, headers=json_type), 400)
    assert "nested" in body["detail"]
    r = api.put("/health")
    assert _shape(r, 405)["error"] == "method_not_allowed" and r.headers["allow"] == "GET"
    assert _shape(api.get("/no/such/path"), 404)["error"] == "not_found"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85"])
def test_control_characters_in_names_are_refused_with_422(app, project, char):
    pid, owner, doc = project
    csv_name = f"site{char}x"  # inside the name: a CSV header is stripped of whitespace (U+0085 is whitespace)
    for r in (
        Api(app.url).post("/projects", json={"name": f"study{char}", "owner": "amira"}),
        owner.post(f"/projects/{pid}/coders", json={"name": f"ben{char}"}),
        owner.patch(f"/projects/{pid}/documents/{doc}/attributes", json={f"site{char}": "North"}),
        owner.post(f"/projects/{pid}/documents/text", json={"name": f"a{char}.txt", "text": "Some text."}),
        owner.post(f"/projects/{pid}/themes", json={"name": f"theme{char}"}),
        owner.post(f"/projects/{pid}/attributes/csv", data={"scope": "document"},
                   files={"file": ("a.csv", f"document,{csv_name}\np1.txt,North\n".encode())}),
        owner.post(f"/projects/{pid}/documents", content=_multipart(f"notes{char}x.txt", b"Some text."),  # httpx would %-escape it
                   headers={"content-type": "multipart/form-data; boundary=xyzzy"}),
    ):
        body = _shape(r, 422)
        assert f"U+{ord(char):04X}" in body["detail"], body
    assert not any(char in name for name in owner.ok("GET", f"/projects/{pid}/documents/{doc}")["attributes"])  # nothing stored


def test_control_characters_in_code_names_are_refused(project):
    pid, owner, _ = project
    before = owner.ok("GET", f"/projects/{pid}/codebook")["version"]
    book = {"name": "book", "codes": [{"id": "trust", "name": "Trust\x01", "definition": "Confidence in another party."}]}
    body = _shape(owner.put(f"/projects/{pid}/codebook", json=book), 422)
    assert "code 'trust'" in body["detail"] and "U+0001" in body["detail"]
    assert owner.ok("GET", f"/projects/{pid}/codebook")["version"] == before


def test_control_characters_already_stored_never_break_the_export(app, project):
    """Names stored before the rule (or by a direct import) and values with control characters:
    the .qdpx export strips what XML cannot hold instead of answering 500."""
    pid, owner, doc = project
    from service.storage.tables import DocumentRow

    with app.url.app.state.db.write() as session:  # as a database written before names were checked would hold
        row = session.get(DocumentRow, doc)
        row.attributes = {**row.attributes, "site\x01": "North\x00", "nul\x00name": 3}
    owner.ok("POST", f"/projects/{pid}/memos", 201, json={"target_kind": "project", "target": "", "text": "memo \x01 with \x00 controls"})
    r = owner.get(f"/projects/{pid}/export.qdpx")
    assert r.status_code == 200, r.text[:300]
    qde = zipfile.ZipFile(io.BytesIO(r.content)).read("project.qde").decode()
    assert 'name="site"' in qde and "memo  with  controls" in qde and "\x01" not in qde and "\x00" not in qde
    for path in (f"/projects/{pid}/export/codings", f"/projects/{pid}/export/ledger", f"/projects/{pid}/report.html",
                 f"/projects/{pid}/code-counts", f"/projects/{pid}/documents", f"/projects/{pid}/codebook/export.qdc"):
        assert owner.get(path).status_code == 200, path
    r = owner.post(f"/projects/{pid}/matrix", params={"format": "png"}, json={"rows": {"codes": "top"}, "cols": {"attribute": "document:site\x01"}})
    assert r.status_code < 500, r.text[:300]


def test_cluster_sizes_larger_than_the_project_are_refused_up_front(project):
    pid, owner, _ = project
    for params in ({"min_samples": 6302}, {"min_cluster_size": 500}, {"method": "kmeans", "k": 400}):
        body = _shape(owner.post(f"/projects/{pid}/jobs", json={"kind": "cluster", "params": params}), 422)
        name = next(k for k in params if k != "method")
        assert name in body["detail"] and "segments" in body["detail"], body
    assert all(j["kind"] != "cluster" for j in owner.ok("GET", f"/projects/{pid}/jobs"))


def test_openapi_declares_the_error_answers(app):
    spec = Api(app.url).ok("GET", "/openapi.json")
    error_ref = {"$ref": "#/components/schemas/ErrorRead"}
    ops = spec["paths"]
    upload = ops["/projects/{project_id}/documents"]["post"]["responses"]
    assert {"401", "403", "404", "409", "413", "415", "422"} <= set(upload)
    assert all(upload[c]["content"]["application/json"]["schema"] == error_ref for c in ("401", "403", "404", "413", "415", "422"))
    read = ops["/projects/{project_id}/decisions/{decision_id}"]["get"]["responses"]
    assert {"401", "403", "404"} <= set(read) and "409" not in read and "413" not in read
    assert set(ops["/health"]["get"]["responses"]) == {"200"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.postgres
def test_a_value_postgresql_cannot_store_is_422_and_stores_nothing(tmp_path, make_app):
    """PostgreSQL refuses NUL in text (SQLite stores it): the refusal is the one error shape, not a 500."""
    from tests.api.conftest import postgres_database

    url, drop = postgres_database()
    try:
        app = make_app(tmp_path / "pg", url)
        try:
            pid, owner = new_project(app.url, retrain_every=0)
            body = _shape(owner.post(f"/projects/{pid}/memos", json={"target_kind": "project", "target": "", "text": "a\x00b"}), 422)
            assert body["error"] == "invalid_value" and "NUL" in body["detail"]
            assert owner.ok("GET", f"/projects/{pid}/memos") == []
            assert _shape(Api(app.url).post("/projects", json={"name": "s", "owner": "o", "description": "x\x00"}), 422)["error"] == "invalid_value"
        finally:
            app.close()  # before the database goes: its job runner would poll a dropped database
    finally:
        drop()
