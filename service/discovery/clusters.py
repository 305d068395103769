"""Inductive discovery in a project: cluster its segments (a job), list the clusters that no code
covers as candidate codes, and let the owner adopt, merge or dismiss each one.

Coverage counts, for each segment, the codes it carries now: those a coder applied (the ledger's
current codings; a code a coder rejected does not count), and the model's suggestions under the
current codebook scored at or above the discovery cover score (models.discovery.describe.COVER_SCORE,
0.9, or the project's threshold when higher: proposals are recall-first, coverage asks whether a
code clearly fits). When no suggest job has run under
the current codebook, the zero-shot classifier scores the segments inside the cluster job.

Adopting a candidate makes a new codebook version with the new code (its representatives as
examples) and stores one suggestion of the new code per member, so the members come up for
review; a suggest job is queued under the new version. Every action is kept (cluster_actions).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from models.base import Segment, Span
from models.codebook import Codebook, children_of, code_entry
from models.discovery.clustering import ClusterConfig
from models.discovery.describe import cover_threshold
from models.discovery.pipeline import DiscoveryConfig, cluster_record, discover
from models.exchange.qda import slug
from service.codebooks.versions import (
    add_codebook_version,
    as_codebook,
    current_codebook,
)
from service.errors import Conflict, Invalid, NotFound
from service.pipeline import Pipeline
from service.projects.access import Caller, in_project
from service.review.ledger import current_codings
from service.storage.db import Database
from service.storage.tables import (
    Cluster,
    ClusterAction,
    ClusterRun,
    CodebookVersion,
    DocumentRow,
    Job,
    Project,
    SegmentRow,
    SegmentVector,
    Suggestion,
)

PARAMS = ("method", "min_cluster_size", "min_samples", "k", "coverage_threshold", "seed", "projection", "kmeans_above")


def config_from(params: dict) -> DiscoveryConfig:
    """The discovery settings a job asked for (anything unset keeps its default)."""
    cl = {k: params[k] for k in ("method", "min_cluster_size", "min_samples", "k", "seed", "kmeans_above") if params.get(k) is not None}
    extra = {k: params[k] for k in ("coverage_threshold", "projection") if params.get(k) is not None}
    return DiscoveryConfig(clustering=ClusterConfig(**cl), **extra)


@dataclass
class ProjectSegments:
    ids: list[int] | list[str]  # segment ids in the database; "document#ordinal" for files
    texts: list[str]
    documents: list[str]
    speakers: list[str | None]
    vectors: np.ndarray
    carried: list[set[str]]
    scores: np.ndarray | None
    codes: list[str]
    book: CodebookVersion | None  # None for files
    codebook: Codebook


def project_segments(db: Database, pipeline: Pipeline, project: Project) -> ProjectSegments:
    """Every data segment of the project (Segment.role) with its embedding (encoded and stored when missing) and the
    codes it carries now (see the module docstring)."""
    model_id = pipeline.model_id
    with db.read() as s:
        book = current_codebook(s, project)
        rows = s.execute(
            select(SegmentRow.id, SegmentRow.text, SegmentRow.speaker, SegmentRow.sentences, DocumentRow.name, SegmentVector.model, SegmentVector.vector)
            .join(DocumentRow, DocumentRow.id == SegmentRow.document_id)
            .outerjoin(SegmentVector, SegmentVector.segment_id == SegmentRow.id)
            # only data is clustered: header lines and interviewer turns would surface as "themes"
            .where(SegmentRow.project_id == project.id, SegmentRow.role == "data").order_by(SegmentRow.document_id, SegmentRow.ordinal)
        ).all()
        suggestions = s.execute(select(Suggestion.segment_id, Suggestion.code, Suggestion.score).where(Suggestion.codebook_id == book.id)).all()
        codings = current_codings(s, project=project)
    codebook: Codebook = as_codebook(book)
    codes = list(codebook.codes)
    n = len(rows)
    ids = [int(r.id) for r in rows]
    vectors = np.zeros((n, pipeline.embedder.dim), np.float32)
    missing = []
    for k, r in enumerate(rows):
        if r.model == model_id and r.vector is not None:
            vectors[k] = np.frombuffer(r.vector, dtype=np.float32)
        else:
            missing.append(k)
    spans = [tuple(Span(a, b) for a, b in r.sentences) for r in rows]
    scores = None
    if not suggestions and n:  # no suggest job under this codebook: score here (the cache makes re-encoding cheap)
        encoded = pipeline.embedder.encode_segments([r.text for r in rows], spans)
        vectors[missing] = encoded.vectors[missing]
        segments = [Segment(id=str(r.id), document_id=r.name, ordinal=k, start=0, end=len(r.text), text=r.text, sentences=spans[k])
                    for k, r in enumerate(rows)]  # the texts let exclude-named phrases ("trust board") act, as in the suggest job
        scores = pipeline.classifier(codebook, project.threshold).score(encoded, segments)
    elif missing:
        vectors[missing] = pipeline.embedder.encode_segments([rows[k].text for k in missing], [spans[k] for k in missing]).vectors
    for lo in range(0, len(missing), 500):  # store what was encoded, in bounded statements
        part = missing[lo:lo + 500]
        with db.write() as s:
            s.execute(delete(SegmentVector).where(SegmentVector.segment_id.in_([ids[k] for k in part])))
            s.execute(insert(SegmentVector), [{"segment_id": ids[k], "vector": vectors[k].tobytes(), "model": model_id} for k in part])
    row_of = {sid: k for k, sid in enumerate(ids)}
    col = {c: j for j, c in enumerate(codes)}
    if scores is None:
        scores = np.zeros((n, len(codes)), np.float32)
        for sid, code, score in suggestions:
            if sid in row_of and code in col:
                scores[row_of[sid], col[code]] = score
    carried: list[set[str]] = [set() for _ in range(n)]
    rows_i, cols_j = np.nonzero(scores >= cover_threshold(project.threshold))
    for i, j in zip(rows_i, cols_j, strict=True):
        carried[int(i)].add(codes[int(j)])
    applied: dict[int, set[str]] = {}
    rejected: dict[int, set[str]] = {}
    for (sid, _coder), state in codings.items():
        for c, on in state.items():
            (applied if on else rejected).setdefault(sid, set()).add(c)
    for sid, k in row_of.items():  # a code some coder applied counts; one only rejected does not
        carried[k] = (carried[k] - rejected.get(sid, set())) | applied.get(sid, set())
    return ProjectSegments(ids, [r.text for r in rows], [r.name for r in rows], [r.speaker for r in rows], vectors, carried, scores, codes, book, codebook)


def name_candidates(make_coder, found, texts: list[str]) -> dict[int, dict]:
    """Let the configured LLM (`make_coder()`, None without one) name and define each candidate
    code; returns {label: naming record}. Without an LLM, or when it fails, the keyword-based
    names stay, and the record says so."""
    from models.llm.errors import LLMError

    naming = {c.label: {"by": "keywords"} for c in found.clusters}
    error: str | None = None
    try:
        coder = make_coder()
    except LLMError as exc:
        coder, error = None, str(exc)
    for c in found.candidates:
        if coder is None:
            if error:
                naming[c.label]["llm_error"] = error
            continue
        try:
            named, prov = coder.name_cluster([w for w, _ in c.keywords], [texts[i] for i in c.representatives])
        except LLMError as exc:
            naming[c.label]["llm_error"] = str(exc)
            continue
        c.name, c.definition = named["name"][:200], named["definition"]
        naming[c.label] = {"by": "llm", "provenance": prov.as_dict()}
    return naming


def run_cluster_job(db: Database, pipeline: Pipeline, job_id: int) -> None:
    """The cluster job: read (and encode what is missing), cluster, describe, store a ClusterRun."""
    with db.read() as s:
        job = s.get_one(Job, job_id)
        project = s.get_one(Project, job.project_id)
        params = dict(job.params)
    config = config_from(params)
    _progress(db, job_id, stage="reading segments")
    data = project_segments(db, pipeline, project)
    book = data.book
    assert book is not None, "project_segments reads the project's current codebook version"
    n = len(data.ids)
    _progress(db, job_id, total=n, done=0, stage="clustering", segments=n)
    if n < 3:
        raise Invalid(f"clustering needs at least 3 segments; project {project.id} has {n}")
    found = discover(data.vectors, data.texts, data.documents, data.speakers, data.carried, config, scores=data.scores, codes=data.codes)
    naming = name_candidates(lambda: pipeline.llm_coder(as_codebook(book)), found, data.texts)
    sims = data.vectors @ found.clustering.centroids.T if found.clustering.n_clusters else np.zeros((n, 0))
    with db.write() as s:
        run = ClusterRun(project_id=project.id, job_id=job_id, codebook_id=book.id, method=found.clustering.method,
                         params={**found.clustering.params, "coverage_threshold": config.coverage_threshold},
                         points={"projection": found.projection, "points": [
                             {"id": data.ids[i], "x": round(float(found.xy[i, 0]), 5), "y": round(float(found.xy[i, 1]), 5),
                              "cluster": int(found.clustering.labels[i]), "code": found.top_codes[i]} for i in range(n)]})
        s.add(run)
        s.flush()
        for c in found.clusters:
            rec = cluster_record(c, data.ids, data.texts)
            s.add(Cluster(run_id=run.id, project_id=project.id, label=c.label, size=c.size, keywords=rec["keywords"],
                          representatives=rec["representatives"], members=rec["members"],
                          similarities=[round(float(sims[i, c.label]), 4) for i in c.members], documents=c.documents,
                          speakers=c.speakers, coverage=rec["coverage"], codes=rec["codes"], candidate=c.candidate,
                          name=c.name[:200], definition=c.definition, naming=naming[c.label]))
        run_id = run.id
    _progress(db, job_id, done=n, stage="done", run_id=run_id, clusters=found.clustering.n_clusters,
              candidates=len(found.candidates), noise=int((found.clustering.labels < 0).sum()), method=found.clustering.method)


def _progress(db: Database, job_id: int, *, total: int | None = None, done: int | None = None, **counts: object) -> None:
    with db.write() as s:
        job = s.get_one(Job, job_id)
        job.total = job.total if total is None else total
        job.done = job.done if done is None else done
        job.counts = {**job.counts, **counts}


def latest_run(session: Session, project: Project, run_id: int | None = None) -> ClusterRun:
    if run_id is not None:
        return in_project(session, ClusterRun, project, run_id, "cluster run")
    run = session.scalar(select(ClusterRun).where(ClusterRun.project_id == project.id).order_by(ClusterRun.id.desc()).limit(1))
    if run is None:
        raise NotFound("cluster run of project", project.id)
    return run


def clusters_view(session: Session, *, project: Project, run_id: int | None = None, candidates_only: bool = False) -> dict[str, Any]:
    """{"run": the run (default: the latest), "clusters": its clusters (or only its candidates), by label}."""
    run = latest_run(session, project, run_id)
    return {"run": run, "clusters": clusters_of(session, run, candidates_only=candidates_only)}


def run_map(session: Session, *, project: Project, run_id: int | None = None) -> dict[str, Any]:
    """The run's stored 2-D map: {"projection", "points": [{id, x, y, cluster, code}]}."""
    return latest_run(session, project, run_id).points


def map_png(session: Session, *, project: Project, run_id: int | None = None) -> bytes:
    """The run's stored map drawn as a PNG (by cluster, candidates in red, and by top code)."""
    import io

    run = latest_run(session, project, run_id)

    from models.discovery.projection import save_map_png

    points = run.points.get("points", [])
    xy = np.array([[p["x"], p["y"]] for p in points], dtype=np.float32).reshape(-1, 2)
    labels = np.array([p["cluster"] for p in points], dtype=np.int64)
    buf = io.BytesIO()
    save_map_png(buf, xy, labels, [p["code"] for p in points], candidates={c.label for c in clusters_of(session, run, candidates_only=True)},
                 title=project.name)
    return buf.getvalue()


def clusters_of(session: Session, run: ClusterRun, *, candidates_only: bool = False) -> list[Cluster]:
    q = select(Cluster).where(Cluster.run_id == run.id)
    if candidates_only:
        q = q.where(Cluster.candidate.is_(True))
    return list(session.scalars(q.order_by(Cluster.label)))


def get_cluster(session: Session, project: Project, cluster_id: int) -> Cluster:
    return in_project(session, Cluster, project, cluster_id, "cluster")


def _open_cluster(session: Session, project: Project, cluster_id: int) -> Cluster:
    cluster = get_cluster(session, project, cluster_id)
    if cluster.status != "open":
        raise Conflict(f"cluster {cluster_id} was already {cluster.status}; run clustering again for a fresh set")
    return cluster


def _siblings(content: dict, parent: str | None) -> list[dict]:
    items = children_of(content, parent)
    if items is None:
        raise Invalid(f"parent {parent!r} is not a code of the current codebook")
    return items


def _examples(cluster: Cluster, limit: int = 5) -> list[str]:
    return [r["text"].strip()[:500] for r in cluster.representatives[:limit] if r["text"].strip()]


def adopt(session: Session, *, project: Project, coder: Caller, cluster_id: int, name: str | None = None,
          definition: str | None = None, parent: str | None = None) -> tuple[ClusterAction, CodebookVersion, int]:
    """Adopt a cluster as a new code: (the action, the new codebook version, suggestions made)."""
    cluster = _open_cluster(session, project, cluster_id)
    book = current_codebook(session, project)
    content = copy.deepcopy(book.content)
    siblings = _siblings(content, parent)
    name = (name or cluster.name or f"Cluster {cluster.label}").strip()
    base, ident, k = slug(name), slug(name), 2
    while any(c["id"] == ident for c in siblings):
        ident, k = f"{base}-{k}", k + 1
    code: dict[str, Any] = {"id": ident, "name": name, "definition": (definition or cluster.definition or name).strip()}
    if _examples(cluster):
        code["examples"] = _examples(cluster)
    siblings.append(code)
    row = add_codebook_version(session, project=project, data=content, coder=coder)
    path = f"{parent}/{ident}" if parent else ident
    docs, texts = {}, {}
    for lo in range(0, len(cluster.members), 5000):  # bounded IN lists
        for sid, doc, text in session.execute(select(SegmentRow.id, SegmentRow.document_id, SegmentRow.text)
                                              .where(SegmentRow.id.in_(cluster.members[lo:lo + 5000]))):
            docs[sid], texts[sid] = doc, text
    run = session.get_one(ClusterRun, cluster.run_id)
    made = 0
    for sid, sim in zip(cluster.members, cluster.similarities, strict=True):
        if sid not in docs:
            continue
        text = texts[sid]
        session.add(Suggestion(
            project_id=project.id, segment_id=sid, document_id=docs[sid], codebook_id=row.id, code=path,
            score=round(max(0.0, float(sim)), 4), priority=round(1.0 - float(sim), 4), model=f"cluster-run:{run.id}",
            evidence={"sentence": text[:300], "start": 0, "end": min(len(text), 300), "matched": f"cluster {cluster.label}: {name}",
                      "matched_kind": "cluster", "similarity": round(float(sim), 4)},
        ))
        made += 1
    action = ClusterAction(project_id=project.id, cluster_id=cluster.id, coder_id=coder.id, action="adopt", code=path, codebook_id=row.id)
    cluster.status = "adopted"
    session.add(action)
    session.flush()
    return action, row, made


def merge(session: Session, *, project: Project, coder: Caller, cluster_id: int, code: str, note: str | None = None) -> tuple[ClusterAction, CodebookVersion]:
    """Merge a cluster into an existing code: its representatives become that code's examples (a new version)."""
    cluster = _open_cluster(session, project, cluster_id)
    book = current_codebook(session, project)
    if code not in as_codebook(book).codes:
        raise Invalid(f"unknown code {code!r} in the current codebook; known codes: {', '.join(as_codebook(book).codes)}")
    content = copy.deepcopy(book.content)
    _, node = code_entry(content, code)  # type: ignore[misc]  # the code was checked above
    examples = node.setdefault("examples", [])
    examples.extend(e for e in _examples(cluster) if e not in examples)
    row = add_codebook_version(session, project=project, data=content, coder=coder)
    action = ClusterAction(project_id=project.id, cluster_id=cluster.id, coder_id=coder.id, action="merge", code=code, codebook_id=row.id, note=note)
    cluster.status = "merged"
    session.add(action)
    session.flush()
    return action, row


def dismiss(session: Session, *, project: Project, coder: Caller, cluster_id: int, note: str | None = None) -> ClusterAction:
    cluster = _open_cluster(session, project, cluster_id)
    action = ClusterAction(project_id=project.id, cluster_id=cluster.id, coder_id=coder.id, action="dismiss", note=note)
    cluster.status = "dismissed"
    session.add(action)
    session.flush()
    return action


def actions_of(session: Session, project: Project) -> list[ClusterAction]:
    return list(session.scalars(select(ClusterAction).where(ClusterAction.project_id == project.id).order_by(ClusterAction.id)))
