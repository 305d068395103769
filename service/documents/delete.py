"""Renaming and deleting a document.

Deleting (owner only) removes the document, its segments, their vectors and its suggestions, in
one transaction. The ledger is never edited: every decision on the document's segments stays (its
segment and suggestion ids no longer resolve), and one `tombstone` entry is appended that records
the deletion: who (coder_id), when (created_at), which document (segment_id: the highest segment id
it had; memo: its id, name, sha256 and what went). Readings of the ledger that need a segment (the
current codings, spans, exports of codings, agreement, the queue, progress, discovery) leave such
decisions out; the ledger itself (GET .../decisions, the ledger export) keeps them. Stored cluster
runs drop the document's segments from their members, representatives and maps.
Deletion is refused (409) while a job of the project is queued or running, since a job works on
the segments it read. Deleted ids are never reused (service.storage.ids).
"""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.codebooks.versions import current_ref
from service.documents.store import _read, get_document, segment_counts
from service.errors import Conflict, Invalid
from service.projects.access import Caller
from service.schemas.projects import DocumentDeleted, DocumentRead
from service.storage.db import Database
from service.storage.ids import retire
from service.storage.tables import (
    Cluster,
    ClusterRun,
    Decision,
    DocumentRow,
    Job,
    Project,
    SegmentRow,
    SegmentVector,
    Suggestion,
)

TOMBSTONE = "tombstone"


def rename_document(db: Database, *, project: Project, document_id: int, name: str) -> DocumentRead:
    """Give the document a new name (unique in the project; 409 otherwise). Nothing else changes."""
    name = name.strip()
    if not name:
        raise Invalid("a document's name cannot be empty or only spaces")
    with db.write() as session:
        row = get_document(session, project, document_id)
        if name != row.name:
            clash = session.scalar(select(DocumentRow.id).where(DocumentRow.project_id == project.id, DocumentRow.name == name))
            if clash is not None:
                raise Conflict(f"project {project.id} already has a document named {name!r}; choose another name")
            session.execute(update(DocumentRow).where(DocumentRow.id == row.id).values(name=name))
            session.refresh(row)
        return _read(row, segment_counts(session, [row.id]).get(row.id, 0))


def _busy_job(session: Session, project: Project) -> int | None:
    return session.scalar(select(Job.id).where(Job.project_id == project.id, Job.status.in_(("queued", "running"))).order_by(Job.id).limit(1))


def _forget_in_clusters(session: Session, project: Project, gone: set[int], name: str) -> None:
    """Stored cluster runs leave the deleted segments out: their map points, members (with their
    similarities), representatives and the document's count. Keywords and coverage stay as computed."""
    for run in session.scalars(select(ClusterRun).where(ClusterRun.project_id == project.id)):
        points = run.points.get("points", [])
        kept = [p for p in points if p.get("id") not in gone]
        if len(kept) != len(points):
            run.points = {**run.points, "points": kept}
    for c in session.scalars(select(Cluster).where(Cluster.project_id == project.id)):
        keep = [k for k, m in enumerate(c.members) if m not in gone]
        if len(keep) == len(c.members) and name not in c.documents:
            continue
        c.similarities = [c.similarities[k] for k in keep] if len(c.similarities) == len(c.members) else c.similarities
        c.members = [c.members[k] for k in keep]
        c.representatives = [r for r in c.representatives if r.get("id") not in gone]
        c.documents = {d: n for d, n in c.documents.items() if d != name}
        c.size = len(c.members)


def delete_document(db: Database, *, project: Project, coder: Caller, document_id: int) -> DocumentDeleted:
    """Delete the document with its segments and suggestions; the ledger keeps every decision and
    gains a tombstone entry (see the module docstring)."""
    with db.write() as session:
        row = get_document(session, project, document_id)
        job = _busy_job(session, project)
        if job is not None:
            raise Conflict(f"job {job} of project {project.id} is still queued or running; delete the document when it has finished")
        segments = select(SegmentRow.id).where(SegmentRow.document_id == row.id).scalar_subquery()
        n_segments, highest = session.execute(select(func.count(), func.max(SegmentRow.id)).where(SegmentRow.document_id == row.id)).one()
        n_suggestions, top_suggestion = session.execute(
            select(func.count(), func.max(Suggestion.id)).where(Suggestion.document_id == row.id)).one()
        kept = session.scalar(select(func.count()).select_from(Decision).where(
            Decision.project_id == project.id, Decision.segment_id.in_(select(SegmentRow.id).where(SegmentRow.document_id == row.id)),
            Decision.verdict != TOMBSTONE)) or 0
        first = session.scalar(select(func.min(SegmentRow.id)).where(SegmentRow.document_id == row.id))
        memo = json.dumps({"deleted_document": {"id": row.id, "name": row.name, "sha256": row.sha256, "format": row.format,
                                                "segments": int(n_segments), "segment_ids": [first, highest],
                                                "suggestions": int(n_suggestions), "decisions_kept": int(kept)}}, ensure_ascii=False)
        tombstone = Decision(project_id=project.id, segment_id=int(highest or 0), coder_id=coder.id, verdict=TOMBSTONE, code="",
                             effects={}, codebook_id=current_ref(session, project).id,
                             memo=memo, client_key=f"tombstone:document:{row.id}")
        session.add(tombstone)
        session.flush()
        gone = set(session.scalars(select(SegmentRow.id).where(SegmentRow.document_id == row.id)))
        _forget_in_clusters(session, project, gone, row.name)
        session.execute(delete(SegmentVector).where(SegmentVector.segment_id.in_(segments)))
        session.execute(delete(Suggestion).where(Suggestion.document_id == row.id))
        session.execute(delete(SegmentRow).where(SegmentRow.document_id == row.id))
        session.execute(delete(DocumentRow).where(DocumentRow.id == row.id))
        retire(session, SegmentRow, highest)
        retire(session, Suggestion, top_suggestion)
        retire(session, DocumentRow, row.id)
        return DocumentDeleted(document_id=row.id, name=row.name, segments_deleted=int(n_segments), suggestions_deleted=int(n_suggestions),
                               decisions_kept=int(kept), tombstone_id=tombstone.id)
