"""Deleting and renaming a document (issue 23), on SQLite and PostgreSQL. The ledger keeps every row and gains a tombstone;
codings, the codings export, agreement, the queue and the document's segments leave the document
out; the ledger export keeps its rows. A deleted id is never handed out again."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from tests.api.conftest import Api, new_project, postgres_database

CODES = ["trust", "leadership/getting-things-done"]  # codes of the default seed codebook
A = "We trusted the board at first.\n\nThen the funding stopped.\n\nThe volunteers kept going."
B = "Leadership meant getting things done.\n\nNobody waited for permission.\n\nTrust came later."


def _ledger(api: Api, pid: int) -> list[dict]:
    return api.ok("GET", f"/projects/{pid}/decisions", params={"limit": 1000})


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _agreement(server, pid: int) -> dict:
    """service.review.agreement on the app's database (the function the agreement endpoint calls)."""
    from service.review.agreement import agreement
    from service.storage.db import Database
    from service.storage.tables import Project

    db = Database(server.settings.database)
    try:
        with db.read() as s:
            return agreement(s, project=s.get_one(Project, pid), metrics=("percent",), n_boot=0)
    finally:
        db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def study(request, tmp_path_factory, make_app):
    url, drop = postgres_database() if request.param == "postgresql" else (None, lambda: None)
    request.addfinalizer(drop)
    server = make_app(tmp_path_factory.mktemp("delete"), database_url=url)
    request.addfinalizer(server.close)  # finalizers run last-in first: the app stops before the drop
    pid, owner = new_project(server.url, retrain_every=0)
    ben = Api(server.url, owner.ok("POST", f"/projects/{pid}/coders", 201, json={"name": "ben"})["token"])
    docs = {}
    for name, text in (("a.txt", A), ("b.txt", B)):
        d = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": name, "text": text, "unit": "paragraph"})
        docs[name] = (d["id"], owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": d["id"]}))
    for api in (owner, ben):  # both coders decide every segment of both documents; on a.txt, Ben rejects what the owner adds
        for name, (_, segs) in docs.items():
            for k, seg in enumerate(segs):
                verdict = "reject" if api is ben and name == "a.txt" else "add"
                api.ok("POST", f"/projects/{pid}/decisions", 201, json={"verdict": verdict, "segment_id": seg["id"], "code": CODES[k % 2]})
    return server, pid, owner, ben, docs


def test_delete_keeps_every_ledger_row_and_leaves_the_document_out(study):
    server, pid, owner, ben, docs = study
    a_id, a_segs = docs["a.txt"]
    a_seg_ids = {s["id"] for s in a_segs}
    before = _ledger(owner, pid)
    agreement_before = _agreement(server, pid)
    codings_before = _rows(owner.ok("GET", f"/projects/{pid}/export/codings"))
    assert {r["document"] for r in codings_before} == {"a.txt", "b.txt"}
    assert len(before) == 12 and agreement_before["units"] == 6

    assert ben.delete(f"/projects/{pid}/documents/{a_id}").status_code == 403  # owner only
    gone = owner.ok("DELETE", f"/projects/{pid}/documents/{a_id}")
    assert gone["segments_deleted"] == 3 and gone["decisions_kept"] == 6 and gone["name"] == "a.txt"

    after = _ledger(owner, pid)
    assert len(after) == len(before) + 1  # every row kept, one tombstone added
    assert after[:-1] == before  # unchanged, in order
    tomb = after[-1]
    assert tomb["id"] == gone["tombstone_id"] and tomb["verdict"] == "tombstone" and tomb["effects"] == {}
    assert '"name": "a.txt"' in tomb["memo"] and tomb["coder_id"] == before[0]["coder_id"]

    # codings and their export, agreement, the queue, the document list leave the document out
    codings_after = _rows(owner.ok("GET", f"/projects/{pid}/export/codings"))
    assert {r["document"] for r in codings_after} == {"b.txt"}
    assert codings_after == [r for r in codings_before if r["document"] == "b.txt"]
    agreement_after = _agreement(server, pid)
    assert agreement_after["units"] == 3 and agreement_after["units_coded_by_two_or_more"] == 3
    pooled = agreement_before["between_coders"]["(pooled)"]["percent"], agreement_after["between_coders"]["(pooled)"]["percent"]
    assert pooled[0]["value"] == 0.5 and pooled[1]["value"] == 1.0  # the coders disagreed on a.txt only
    assert [d["name"] for d in owner.ok("GET", f"/projects/{pid}/documents")] == ["b.txt"]
    assert owner.get(f"/projects/{pid}/documents/{a_id}").status_code == 404
    assert owner.get(f"/projects/{pid}/documents/{a_id}/codings").status_code == 404
    assert not a_seg_ids & {s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"limit": 1000})}
    # the ledger export keeps every row and the tombstone (the deleted document's rows name no document)
    ledger_rows = _rows(owner.ok("GET", f"/projects/{pid}/export/ledger"))
    assert len(ledger_rows) == len(after) and ledger_rows[-1]["verdict"] == "tombstone"
    # a decision on a deleted segment cannot be undone or added to
    first_a = next(d for d in before if d["segment_id"] in a_seg_ids)
    assert owner.post(f"/projects/{pid}/decisions", json={"verdict": "undo", "undoes": first_a["id"]}).status_code == 404
    assert owner.delete(f"/projects/{pid}/documents/{a_id}").status_code == 404

    # the REFI-QDA export leaves it out: no source, no coding of it
    r = owner.get(f"/projects/{pid}/export.qdpx")
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        qde = z.read("project.qde").decode()
        assert "b.txt" in qde and "a.txt" not in qde and A[:20] not in "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())

    # a new upload never takes the deleted ids (SQLite would otherwise give max(id) + 1 again)
    c = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "a.txt", "text": A, "unit": "paragraph"})
    assert c["id"] > a_id
    new_ids = {s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": c["id"]})}
    assert min(new_ids) > max(a_seg_ids | {tomb["segment_id"]})
    assert owner.ok("GET", f"/projects/{pid}/documents/{c['id']}/codings") == []  # the old decisions stay off it
    # the newest document deleted: its ids are the highest, and still the next upload does not take them
    owner.ok("DELETE", f"/projects/{pid}/documents/{c['id']}")
    d = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "d.txt", "text": A, "unit": "paragraph"})
    assert d["id"] > c["id"]
    assert min(s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": d["id"]})) > max(new_ids)
    owner.ok("DELETE", f"/projects/{pid}/documents/{d['id']}")


def test_rename(study):
    _, pid, owner, ben, docs = study
    b_id, _ = docs["b.txt"]
    r = owner.ok("PATCH", f"/projects/{pid}/documents/{b_id}", json={"name": "interview B.txt"})
    assert r["name"] == "interview B.txt" and r["segments"] == 3
    assert owner.ok("GET", f"/projects/{pid}/documents/{b_id}")["name"] == "interview B.txt"
    owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": "other.txt", "text": "Something else entirely."})
    clash = owner.request("PATCH", f"/projects/{pid}/documents/{b_id}", json={"name": "other.txt"})
    assert clash.status_code == 409 and "other.txt" in clash.json()["detail"]
    assert owner.request("PATCH", f"/projects/{pid}/documents/{b_id}", json={"name": ""}).status_code == 422
    assert owner.request("PATCH", f"/projects/{pid}/documents/{b_id}", json={"name": "   "}).status_code == 422
    assert {r["document"] for r in _rows(owner.ok("GET", f"/projects/{pid}/export/codings"))} >= {"interview B.txt"}


def test_stored_cluster_runs_drop_a_deleted_documents_segments(study):
    """A cluster run stored before the delete: its members, similarities, representatives, document
    counts and map points lose the deleted document's segments (discovery leaves it out)."""
    from service.storage.db import Database
    from service.storage.tables import Cluster, ClusterRun, CodebookVersion

    server, pid, owner, _, _ = study
    docs = {}
    for name in ("x.txt", "y.txt"):
        d = owner.ok("POST", f"/projects/{pid}/documents/text", 201, json={"name": name, "text": A, "unit": "paragraph"})
        docs[name] = (d["id"], [s["id"] for s in owner.ok("GET", f"/projects/{pid}/segments", params={"document_id": d["id"]})])
    (x_id, xs), (_, ys) = docs["x.txt"], docs["y.txt"]
    db = Database(server.settings.database)
    try:
        with db.write() as s:
            book = s.query(CodebookVersion).filter_by(project_id=pid).first()
            run = ClusterRun(project_id=pid, codebook_id=book.id, method="kmeans", params={},
                             points={"projection": "pca", "points": [{"id": i, "x": 0.0, "y": 0.0, "cluster": 0, "code": None} for i in xs + ys]})
            s.add(run)
            s.flush()
            s.add(Cluster(run_id=run.id, project_id=pid, label=0, size=6, members=xs + ys, similarities=[0.9] * 6, coverage=0.1,
                          representatives=[{"id": xs[0], "text": "x"}, {"id": ys[0], "text": "y"}], documents={"x.txt": 3, "y.txt": 3}))
            run_id = run.id
        owner.ok("DELETE", f"/projects/{pid}/documents/{x_id}")
        with db.read() as s:
            cluster = s.query(Cluster).filter_by(run_id=run_id).one()
            assert (cluster.members, cluster.size, cluster.similarities) == (ys, 3, [0.9] * 3)
            assert [r["id"] for r in cluster.representatives] == [ys[0]] and cluster.documents == {"y.txt": 3}
            assert [p["id"] for p in s.get_one(ClusterRun, run_id).points["points"]] == ys
    finally:
        db.dispose()
