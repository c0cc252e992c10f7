"""playbooks, their runs and steps, drills; the drill flag on customer

Revision ID: 0008
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('playbook',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('trigger', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('drill_events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('builtin_key', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook')),
    sa.UniqueConstraint('builtin_key', name=op.f('uq_playbook_builtin_key')),
    sa.UniqueConstraint('name', name=op.f('uq_playbook_name'))
    )
    op.create_table('drill',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('playbook_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sent_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('send_error', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['playbook_id'], ['playbook.id'], name=op.f('fk_drill_playbook_id_playbook')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_drill_customer_id'))
    )
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drill_playbook_id'), ['playbook_id'], unique=False)

    op.create_table('playbook_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('playbook_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('drill', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('alert_opened_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_playbook_run_alert_id_alert'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['playbook_id'], ['playbook.id'], name=op.f('fk_playbook_run_playbook_id_playbook')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook_run')),
    sa.UniqueConstraint('playbook_id', 'alert_id', name=op.f('uq_playbook_run_playbook_id_alert_id'))
    )
    with op.batch_alter_table('playbook_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playbook_run_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_playbook_run_playbook_id_completed_at'), ['playbook_id', 'completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_playbook_run_status_id'), ['status', 'id'], unique=False)

    op.create_table('playbook_step',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('owner_role', sa.String(length=100), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('started_by', sa.String(length=200), nullable=True),
    sa.Column('finished_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('finished_by', sa.String(length=200), nullable=True),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.Column('overdue_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['playbook_run.id'], name=op.f('fk_playbook_step_run_id_playbook_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook_step')),
    sa.UniqueConstraint('run_id', 'position', name=op.f('uq_playbook_step_run_id_position'))
    )
    with op.batch_alter_table('playbook_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playbook_step_assignee_status'), ['assignee', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_playbook_step_status_due_at'), ['status', 'due_at'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_drill', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('is_drill')

    with op.batch_alter_table('playbook_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playbook_step_status_due_at'))
        batch_op.drop_index(batch_op.f('ix_playbook_step_assignee_status'))

    op.drop_table('playbook_step')
    with op.batch_alter_table('playbook_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playbook_run_status_id'))
        batch_op.drop_index(batch_op.f('ix_playbook_run_playbook_id_completed_at'))
        batch_op.drop_index(batch_op.f('ix_playbook_run_customer_id'))

    op.drop_table('playbook_run')
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_playbook_id'))

    op.drop_table('drill')
    op.drop_table('playbook')
