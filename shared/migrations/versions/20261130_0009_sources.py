"""sources: the Fxiaoke CRM poller's state (corp token, lease) and per-object watermarks

Revision ID: 0009
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.models.base

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fxiaoke_poll_state",
        sa.Column("connection", sa.String(length=255), nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("token_expires_at", shared.models.base.UtcDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", shared.models.base.UtcDateTime(), nullable=True),
        sa.Column("last_run_at", shared.models.base.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_fxiaoke_poll_state")),
    )
    op.create_table(
        "fxiaoke_watermark",
        sa.Column("connection", sa.String(length=255), nullable=False),
        sa.Column("api_name", sa.String(length=100), nullable=False),
        sa.Column("modified_ms", sa.BigInteger(), nullable=False),
        sa.Column("seen_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("updated_at", shared.models.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection", "api_name", name=op.f("pk_fxiaoke_watermark")),
    )


def downgrade() -> None:
    op.drop_table("fxiaoke_watermark")
    op.drop_table("fxiaoke_poll_state")
