"""Recording decisions as a request does it: the transaction, the idempotency race, and the
retrain a batch of new decisions may call for.

Invariants:
- One decision is written in one transaction, with the membership check inside it; the answer is
  given only once that transaction has committed (the entry is durable).
- Two requests with the same `client_key` may race: the loser's insert breaks the unique index
  (IntegrityError), and it is retried once, which finds and returns the winner's entry
  (created=False). An IntegrityError without a client_key is not a race and propagates.
- A bulk call is one transaction with one savepoint per item: a bad item reports its own error
  and the others are stored (ledger.record_many).
- After new entries, a retrain job is queued when `retrain_every` decisions have arrived since the
  last one (one indexed count, in its own short transactions, after the decision committed).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from service.jobs.queue import Notifier, enqueue
from service.projects.access import Caller, member_project
from service.review import ledger
from service.schemas.review import BulkItem, BulkResult, DecisionCreate, DecisionRead
from service.storage.db import Database
from service.storage.tables import Decision, Project


def _input(body: DecisionCreate) -> ledger.DecisionInput:
    return ledger.DecisionInput(**body.model_dump())


def retrain_if_due(db: Database, runner: Notifier, project: Project) -> None:
    """Queue a retrain when enough new decisions arrived (cheap: one indexed count)."""
    with db.read() as session:
        due = ledger.retrain_due(session, project)
    if due:
        with db.write() as session:
            enqueue(session, project=project, kind="retrain")
        runner.notify()


def decide(db: Database, runner: Notifier, *, project_id: int, coder: Caller, data: DecisionCreate) -> tuple[DecisionRead, bool]:
    """Append one decision to the ledger: (the entry, created). created is False when an entry
    with the same client_key was already stored (it is returned, unchanged)."""
    entry = _input(data)

    def write() -> tuple[Project, Decision, bool]:
        with db.write() as session:  # the membership check shares the write's transaction
            project = member_project(session, coder, project_id)
            return (project, *ledger.record(session, project=project, coder=coder, data=entry))

    try:
        project, row, created = write()
    except IntegrityError:
        if entry.client_key is None:
            raise
        project, row, created = write()  # the same client_key arrived twice at once: the other request stored it
    if created:
        retrain_if_due(db, runner, project)
    return DecisionRead.model_validate(row), created


def decide_many(db: Database, runner: Notifier, *, project: Project, coder: Caller, items: list[DecisionCreate]) -> BulkResult:
    """Append many decisions in one transaction; each item reports its own result."""
    with db.write() as session:
        results = ledger.record_many(session, project=project, coder=coder, items=[_input(b) for b in items])
        out = [BulkItem(index=r.index, status=r.status, decision=DecisionRead.model_validate(r.decision) if r.decision else None,
                        error=r.error, detail=r.detail) for r in results]
    retrain_if_due(db, runner, project)
    stored = sum(1 for i in out if i.status < 300)
    return BulkResult(stored=stored, failed=len(out) - stored, items=out)
