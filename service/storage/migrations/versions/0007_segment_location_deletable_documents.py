"""segments.page / start_s / end_s; decisions outlive the segments and suggestions they answered

A segment keeps where it sits in its source: the PDF page it starts on, and the caption times it
covers (.vtt/.srt). Deleting a document deletes its segments and suggestions, while the ledger keeps
every decision (issue 23): decisions.segment_id and decisions.suggestion_id therefore stop being
foreign keys (they are kept as plain ids; a deleted document's ids no longer resolve), and
id_floors records the highest deleted id per table so that SQLite never hands one out again
(service.storage.ids).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

DROPPED = (("segment_id", "segments"), ("suggestion_id", "suggestions"))
_FK = re.compile(r',\s*FOREIGN KEY\s*\(\s*"?(segment_id|suggestion_id)"?\s*\)\s*REFERENCES\s*"?(segments|suggestions)"?\s*\(\s*"?id"?\s*\)',
                 re.IGNORECASE)


def _sqlite_drop_foreign_keys() -> None:
    """SQLite cannot drop a foreign key: the table is rebuilt without it. The old table is renamed
    first and the copy made in id order, so an undo (undoes_id) always finds the entry it undoes,
    and the old table's rows refer only to each other when it is dropped (alembic's batch rebuild
    drops the old table while the copy still refers to it, which SQLite refuses)."""
    conn = op.get_bind()
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'decisions'").scalar()
    indexes = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decisions' AND sql IS NOT NULL").scalars().all()
    new_sql, n = _FK.subn("", sql)
    if n != len(DROPPED):
        raise RuntimeError(f"migration 0007: expected {len(DROPPED)} foreign keys to drop in decisions, found {n}: {sql}")
    columns = ", ".join(f'"{r[1]}"' for r in conn.exec_driver_sql("PRAGMA table_info(decisions)"))
    op.execute("ALTER TABLE decisions RENAME TO decisions_old")
    op.execute(new_sql)
    op.execute(f"INSERT INTO decisions ({columns}) SELECT {columns} FROM decisions_old ORDER BY id")
    op.execute("DROP TABLE decisions_old")
    for index in indexes:
        op.execute(index)


def upgrade() -> None:
    op.create_table('id_floors',
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('floor', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('name'))
    with op.batch_alter_table('segments') as batch:
        batch.add_column(sa.Column('page', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('start_s', sa.Float(), nullable=True))
        batch.add_column(sa.Column('end_s', sa.Float(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_drop_foreign_keys()
    else:
        for column, _ in DROPPED:
            op.drop_constraint(f'decisions_{column}_fkey', 'decisions', type_='foreignkey')


def downgrade() -> None:
    """The columns and id_floors go; decisions keep no foreign key on segment_id/suggestion_id
    (a deleted document's decisions would violate it)."""
    with op.batch_alter_table('segments') as batch:
        batch.drop_column('end_s')
        batch.drop_column('start_s')
        batch.drop_column('page')
    op.drop_table('id_floors')
