"""clusters: clustering runs, their clusters (candidate codes) and what analysts did with them

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('codebook_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['codebook_id'], ['codebooks.id'], ),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_cluster_runs_project_id'), 'cluster_runs', ['project_id'], unique=False)
    op.create_table('clusters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('representatives', sa.JSON(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('similarities', sa.JSON(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('speakers', sa.JSON(), nullable=False),
    sa.Column('coverage', sa.Float(), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('candidate', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('naming', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['cluster_runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'label')
    )
    op.create_index(op.f('ix_clusters_project_id'), 'clusters', ['project_id'], unique=False)
    op.create_index(op.f('ix_clusters_run_id'), 'clusters', ['run_id'], unique=False)
    op.create_table('cluster_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('coder_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=500), nullable=True),
    sa.Column('codebook_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ),
    sa.ForeignKeyConstraint(['codebook_id'], ['codebooks.id'], ),
    sa.ForeignKeyConstraint(['coder_id'], ['coders.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_cluster_actions_cluster_id'), 'cluster_actions', ['cluster_id'], unique=False)
    op.create_index(op.f('ix_cluster_actions_project_id'), 'cluster_actions', ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cluster_actions_project_id'), table_name='cluster_actions')
    op.drop_index(op.f('ix_cluster_actions_cluster_id'), table_name='cluster_actions')
    op.drop_table('cluster_actions')
    op.drop_index(op.f('ix_clusters_run_id'), table_name='clusters')
    op.drop_index(op.f('ix_clusters_project_id'), table_name='clusters')
    op.drop_table('clusters')
    op.drop_index(op.f('ix_cluster_runs_project_id'), table_name='cluster_runs')
    op.drop_table('cluster_runs')

