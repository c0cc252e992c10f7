"""reasons computed where scores move or when first read: nullable reasons, churn model id

A NULL ``reasons`` / ``churn_reasons`` on ``customer_risk`` means "not explained yet": the
risk API computes them on first read from the stored feature vector and keeps them. Score
history rows may hold NULL for a move too small to explain at the time.
``churn_model_id`` names the churn model, so the explanation uses the model that scored.

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_risk", schema=None) as batch_op:
        batch_op.alter_column("reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=True)
        batch_op.alter_column("churn_reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=True)
        batch_op.add_column(sa.Column("churn_model_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key("fk_customer_risk_churn_model_id_risk_model",
                                    "risk_model", ["churn_model_id"], ["id"])
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.alter_column("reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=True)


def downgrade() -> None:
    op.execute("UPDATE score SET reasons = '[]' WHERE reasons IS NULL")
    op.execute("UPDATE customer_risk SET reasons = '[]' WHERE reasons IS NULL")
    op.execute("UPDATE customer_risk SET churn_reasons = '[]' WHERE churn_reasons IS NULL")
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.alter_column("reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=False)
    with op.batch_alter_table("customer_risk", schema=None) as batch_op:
        batch_op.drop_constraint("fk_customer_risk_churn_model_id_risk_model",
                                 type_="foreignkey")
        batch_op.drop_column("churn_model_id")
        batch_op.alter_column("churn_reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=False)
        batch_op.alter_column("reasons", existing_type=shared.models.base.JsonDoc,
                              nullable=False)
