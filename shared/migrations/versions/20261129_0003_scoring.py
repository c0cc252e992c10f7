"""scoring tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risk_model',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('feature_set', sa.String(length=50), nullable=False),
    sa.Column('feature_set_version', sa.Integer(), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('model_text', sa.Text(), nullable=False),
    sa.Column('report', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reference', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('promoted_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('retired_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_model'))
    )
    with op.batch_alter_table('risk_model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_model_target'), ['target'], unique=False)

    op.create_table('tier_config',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('thresholds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('strategies', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_tier_config'))
    )
    op.create_table('customer_risk',
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('pd_default', sa.Float(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pd_churn', sa.Float(), nullable=True),
    sa.Column('churn_model_version', sa.String(length=100), nullable=True),
    sa.Column('churn_reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('feature_set', sa.String(length=50), nullable=False),
    sa.Column('feature_set_version', sa.Integer(), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('outstanding_balance', sa.Numeric(precision=20, scale=2), nullable=False),
    sa.Column('overdue_amount', sa.Numeric(precision=20, scale=2), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=20, scale=2), nullable=True),
    sa.Column('credit_currency', sa.String(length=3), nullable=True),
    sa.Column('in_default', sa.Boolean(), nullable=False),
    sa.Column('tier_config_version', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=50), nullable=False),
    sa.Column('scored_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_customer_risk_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['risk_model.id'], name=op.f('fk_customer_risk_model_id_risk_model')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_risk'))
    )
    with op.batch_alter_table('customer_risk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_risk_tier'), ['tier'], unique=False)

    op.create_table('model_champion',
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('previous_model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('promoted_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('promoted_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['risk_model.id'], name=op.f('fk_model_champion_model_id_risk_model')),
    sa.ForeignKeyConstraint(['previous_model_id'], ['risk_model.id'], name=op.f('fk_model_champion_previous_model_id_risk_model')),
    sa.PrimaryKeyConstraint('target', name=op.f('pk_model_champion'))
    )
    op.create_table('score',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('scored_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('pd', sa.Float(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('feature_set', sa.String(length=50), nullable=False),
    sa.Column('feature_set_version', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('trigger', sa.String(length=50), nullable=False),
    sa.Column('shadow', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_score_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['risk_model.id'], name=op.f('fk_score_model_id_risk_model')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score'))
    )
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_customer_id_scored_at'), ['customer_id', 'scored_at'], unique=False)

    op.create_table('scoring_job',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=200), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('input_text', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('model_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('schedule_key', sa.String(length=100), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['risk_model.id'], name=op.f('fk_scoring_job_model_id_risk_model')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_job')),
    sa.UniqueConstraint('schedule_key', name=op.f('uq_scoring_job_schedule_key'))
    )
    op.create_table('tier_override',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('expires_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', shared.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.customer_id'], name=op.f('fk_tier_override_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_override'))
    )
    with op.batch_alter_table('tier_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tier_override_customer_id_expires_at'), ['customer_id', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('tier_override')
    op.drop_table('scoring_job')
    op.drop_table('score')
    op.drop_table('model_champion')
    op.drop_table('customer_risk')
    op.drop_table('tier_config')
    op.drop_table('risk_model')
