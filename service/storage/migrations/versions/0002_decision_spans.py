"""decision spans: the character selection a coding applies to, kept for REFI-QDA round trips

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('decisions') as batch:
        batch.add_column(sa.Column('span_start', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('span_end', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('decisions') as batch:
        batch.drop_column('span_end')
        batch.drop_column('span_start')
