"""Ids of deleted documents, segments and suggestions are never handed out again.

The ledger keeps the segment and suggestion ids of every decision after their document is deleted
(service.documents.delete), and memos name documents by id; a new row that took an old id would
inherit those. PostgreSQL sequences never reuse an id. SQLite gives a new row max(id) + 1, so after
the newest rows are deleted it would reuse theirs: deleting records each table's highest deleted id
here (`retire`), and before a flush that inserts into such a table, new rows are numbered from
above that floor when the table's own max(id) is below it (`install`, once per process).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from service.storage.tables import Base, DocumentRow, SegmentRow, Suggestion

GUARDED: tuple[type[Any], ...] = (DocumentRow, SegmentRow, Suggestion)


class IdFloor(Base):
    """The highest id ever deleted from a table (by its table name)."""

    __tablename__ = "id_floors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    floor: Mapped[int] = mapped_column(default=0)


def retire(session: Session, table: type[Any], highest: int | None) -> None:
    """Record that ids up to `highest` of `table` were deleted (never to be used again)."""
    if highest is None:
        return
    name = table.__tablename__
    row = session.get(IdFloor, name)
    if row is None:
        session.add(IdFloor(name=name, floor=int(highest)))
    elif row.floor < highest:
        row.floor = int(highest)


def _number_above_floors(session: Session, _context: Any, _instances: Any) -> None:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in GUARDED:
        new = [o for o in session.new if isinstance(o, table) and o.id is None]
        if not new:
            continue
        with session.no_autoflush:
            floor = session.scalar(select(IdFloor.floor).where(IdFloor.name == table.__tablename__))
            top = session.scalar(select(func.max(table.id))) or 0 if floor else 0
        if not floor or top >= floor:
            continue
        if table is SegmentRow:  # ids follow document order, as SQLite would give them
            new.sort(key=lambda o: (o.document_id or 0, o.ordinal or 0))
        for k, obj in enumerate(new, start=floor + 1):
            obj.id = k


_installed = False


def install() -> None:
    """Number new rows above the floors in every session of this process (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _number_above_floors)
        _installed = True
