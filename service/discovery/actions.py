"""What the owner does with a cluster, as the endpoints do it: adopt it as a new code, merge it
into an existing code, or dismiss it (the rules are in service.discovery.clusters).

Invariants: each action is one transaction; adopting or merging makes a new codebook version and
queues a suggest job under it in that same transaction, and the job runner is woken only after it
commits. A cluster is acted on once (a second action is a 409).
"""

from __future__ import annotations

from service.discovery import clusters
from service.jobs.queue import Notifier, enqueue
from service.projects.access import Caller
from service.schemas.discovery import ActionRead, ActionResult
from service.schemas.projects import CodebookSummary
from service.storage.db import Database
from service.storage.tables import Project


def adopt_cluster(db: Database, runner: Notifier, *, project: Project, coder: Caller, cluster_id: int, name: str | None = None,
                  definition: str | None = None, parent: str | None = None) -> ActionResult:
    """A candidate as a new code: the new version holds it, its members become suggestions of it."""
    with db.write() as session:
        action, book, made = clusters.adopt(session, project=project, coder=coder, cluster_id=cluster_id, name=name, definition=definition, parent=parent)
        enqueue(session, project=project, kind="suggest", coder=coder)
        out = ActionResult(action=ActionRead.model_validate(action), codebook=CodebookSummary.model_validate(book), suggestions=made)
    runner.notify()
    return out


def merge_cluster(db: Database, runner: Notifier, *, project: Project, coder: Caller, cluster_id: int, code: str, note: str | None = None) -> ActionResult:
    """A cluster's representatives as examples of an existing code (a new version)."""
    with db.write() as session:
        action, book = clusters.merge(session, project=project, coder=coder, cluster_id=cluster_id, code=code, note=note)
        enqueue(session, project=project, kind="suggest", coder=coder)
        out = ActionResult(action=ActionRead.model_validate(action), codebook=CodebookSummary.model_validate(book))
    runner.notify()
    return out


def dismiss_cluster(db: Database, *, project: Project, coder: Caller, cluster_id: int, note: str | None = None) -> ActionResult:
    """A candidate dismissed, with the note (recorded)."""
    with db.write() as session:
        action = clusters.dismiss(session, project=project, coder=coder, cluster_id=cluster_id, note=note)
        return ActionResult(action=ActionRead.model_validate(action))
