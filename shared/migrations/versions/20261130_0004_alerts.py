"""alerts tables: rules and their versions, alerts, comments, silences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_rule',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('scope', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('cooldown_seconds', sa.Integer(), nullable=False),
    sa.Column('resolve_after_seconds', sa.Integer(), nullable=False),
    sa.Column('repeat_interval_seconds', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('builtin_key', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rule')),
    sa.UniqueConstraint('builtin_key', name=op.f('uq_alert_rule_builtin_key')),
    sa.UniqueConstraint('name', name=op.f('uq_alert_rule_name'))
    )
    op.create_table('alert',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('open_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('hit_count', sa.Integer(), nullable=False),
    sa.Column('last_hit_key', sa.String(length=100), nullable=True),
    sa.Column('event_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('opened_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('clear_since', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('silenced', sa.Boolean(), nullable=False),
    sa.Column('silence_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('drill', sa.Boolean(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('resolved_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('cooldown_until', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_notified_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_alert_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rule.id'], name=op.f('fk_alert_rule_id_alert_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert')),
    sa.UniqueConstraint('open_key', name=op.f('uq_alert_open_key'))
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_assignee'), ['assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_customer_id_opened_at'), ['customer_id', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_rule_id_customer_id_resolved_at'), ['rule_id', 'customer_id', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_status_severity'), ['status', 'severity'], unique=False)

    op.create_table('alert_rule_version',
    sa.Column('rule_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rule.id'], name=op.f('fk_alert_rule_version_rule_id_alert_rule')),
    sa.PrimaryKeyConstraint('rule_id', 'version', name=op.f('pk_alert_rule_version'))
    )
    op.create_table('silence',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('starts_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expired_early_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rule.id'], name=op.f('fk_silence_rule_id_alert_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_silence'))
    )
    with op.batch_alter_table('silence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_silence_ends_at'), ['ends_at'], unique=False)

    op.create_table('alert_comment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_alert_comment_alert_id_alert'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_comment'))
    )
    with op.batch_alter_table('alert_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_comment_alert_id'), ['alert_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_comment_alert_id'))

    op.drop_table('alert_comment')
    with op.batch_alter_table('silence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_silence_ends_at'))

    op.drop_table('silence')
    op.drop_table('alert_rule_version')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_status_severity'))
        batch_op.drop_index(batch_op.f('ix_alert_rule_id_customer_id_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_alert_customer_id_opened_at'))
        batch_op.drop_index(batch_op.f('ix_alert_assignee'))

    op.drop_table('alert')
    op.drop_table('alert_rule')
