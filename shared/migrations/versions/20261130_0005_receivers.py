"""receivers, notification deliveries and their attempts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('receiver',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('display_target', sa.String(length=2048), nullable=True),
    sa.Column('secret_ciphertext', sa.Text(), nullable=False),
    sa.Column('severities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('include_drills', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receiver')),
    sa.UniqueConstraint('name', name=op.f('uq_receiver_name'))
    )
    op.create_table('notification_delivery',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('receiver_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('notification', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('redelivery_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['receiver_id'], ['receiver.id'], name=op.f('fk_notification_delivery_receiver_id_receiver'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redelivery_of'], ['notification_delivery.id'], name=op.f('fk_notification_delivery_redelivery_of_notification_delivery'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_delivery'))
    )
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_delivery_alert_id_id'), ['alert_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_delivery_receiver_id_id'), ['receiver_id', 'id'], unique=False)

    op.create_table('delivery_attempt',
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('retry_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['notification_delivery.id'], name=op.f('fk_delivery_attempt_delivery_id_notification_delivery'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id', 'number', name=op.f('pk_delivery_attempt'))
    )


def downgrade() -> None:
    op.drop_table('delivery_attempt')
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_delivery_receiver_id_id'))
        batch_op.drop_index(batch_op.f('ix_notification_delivery_alert_id_id'))

    op.drop_table('notification_delivery')
    op.drop_table('receiver')
