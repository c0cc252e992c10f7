"""reviews tables: review policies, reviews and notes, profile snapshots (the risk file)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_policy',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cadence_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sla_days', sa.Integer(), nullable=False),
    sa.Column('open_on_worsened_tier', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_review_policy'))
    )
    op.create_table('review',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('pd', sa.Float(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('deadline_on', sa.Date(), nullable=False),
    sa.Column('schedule_key', sa.String(length=200), nullable=True),
    sa.Column('policy_version', sa.Integer(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('opened_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=True),
    sa.Column('decision', sa.String(length=32), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decision_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_review_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review')),
    sa.UniqueConstraint('schedule_key', name=op.f('uq_review_schedule_key'))
    )
    op.create_index(op.f('ix_review_assignee'), 'review', ['assignee'], unique=False)
    op.create_index(op.f('ix_review_customer_id_id'), 'review', ['customer_id', 'id'], unique=False)
    op.create_index(op.f('ix_review_status_due_on'), 'review', ['status', 'due_on'], unique=False)
    op.create_index('uq_review_open_customer', 'review', ['customer_id'], unique=True, postgresql_where=sa.text("status IN ('open', 'in_progress')"), sqlite_where=sa.text("status IN ('open', 'in_progress')"))
    op.create_table('profile_snapshot',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('cause', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('review_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('taken_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('pd', sa.Float(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('previous_tier', sa.String(length=16), nullable=True),
    sa.Column('overdue_amount', sa.Numeric(precision=20, scale=2), nullable=True),
    sa.Column('outstanding_balance', sa.Numeric(precision=20, scale=2), nullable=True),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_profile_snapshot_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_profile_snapshot_review_id_review'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_snapshot')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_profile_snapshot_dedupe_key'))
    )
    op.create_index(op.f('ix_profile_snapshot_customer_id_id'), 'profile_snapshot', ['customer_id', 'id'], unique=False)
    op.create_table('review_note',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('review_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_review_note_review_id_review'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_note'))
    )
    op.create_index(op.f('ix_review_note_review_id'), 'review_note', ['review_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_review_note_review_id'), table_name='review_note')
    op.drop_table('review_note')
    op.drop_index(op.f('ix_profile_snapshot_customer_id_id'), table_name='profile_snapshot')
    op.drop_table('profile_snapshot')
    op.drop_index('uq_review_open_customer', table_name='review', postgresql_where=sa.text("status IN ('open', 'in_progress')"), sqlite_where=sa.text("status IN ('open', 'in_progress')"))
    op.drop_index(op.f('ix_review_status_due_on'), table_name='review')
    op.drop_index(op.f('ix_review_customer_id_id'), table_name='review')
    op.drop_index(op.f('ix_review_assignee'), table_name='review')
    op.drop_table('review')
    op.drop_table('review_policy')
