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
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# SQLite's foreign keys have no names: batch mode names them by this convention to drop them.
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
DROPPED = (("segment_id", "segments"), ("suggestion_id", "suggestions"))


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
        with op.batch_alter_table('decisions', naming_convention=NAMING, recreate='always') as batch:
            for column, table in DROPPED:
                batch.drop_constraint(f'fk_decisions_{column}_{table}', type_='foreignkey')
    else:
        for column, _ in DROPPED:
            op.drop_constraint(f'decisions_{column}_fkey', 'decisions', type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('decisions', naming_convention=NAMING) as batch:
        for column, table in DROPPED:
            batch.create_foreign_key(f'fk_decisions_{column}_{table}', table, [column], ['id'])
    with op.batch_alter_table('segments') as batch:
        batch.drop_column('end_s')
        batch.drop_column('start_s')
        batch.drop_column('page')
    op.drop_table('id_floors')
