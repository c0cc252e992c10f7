"""ingest tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'key', name=op.f('pk_idempotency_key'))
    )
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_key_created_at'), ['created_at'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('adapter', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('received_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'delivery_id', name=op.f('pk_webhook_delivery'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_received_at'), ['received_at'], unique=False)

    op.create_table('webhook_source',
    sa.Column('adapter', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('secrets_ciphertext', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'name', name=op.f('pk_webhook_source'))
    )


def downgrade() -> None:
    op.drop_table('webhook_source')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_received_at'))
    op.drop_table('webhook_delivery')
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_key_created_at'))
    op.drop_table('idempotency_key')
