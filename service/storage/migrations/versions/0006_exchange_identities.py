"""exchange: what a REFI-QDA file said about a project, coder, document, decision or memo

GUIDs, note names and creation times from an imported .qdpx, kept so that an export writes them
back (issue 24). NULL for rows made in Loupe.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ('projects', 'coders', 'documents', 'decisions', 'memos')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('exchange', sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('exchange')
