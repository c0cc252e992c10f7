"""the overdue amount in the score history, and the watch list's indexes

Each default score row keeps the overdue amount it was scored with (NULL for rows written
before this revision: the watch list then has nothing to compare and shows no change).
Two indexes let the watch list compare every customer without reading the wide rows: the
last default score before a date per customer (PostgreSQL: index-only, in order) and the
current PD, tier and overdue per customer.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_amount", sa.Numeric(precision=20, scale=2),
                                      nullable=True))
    op.create_index("ix_score_default_before", "score",
                    ["customer_id", sa.column("scored_at").desc(), sa.column("id").desc()],
                    postgresql_include=["pd", "tier", "overdue_amount"],
                    postgresql_where=sa.text("target = 'default' AND shadow IS false"),
                    sqlite_where=sa.text("target = 'default' AND shadow = 0"))
    op.create_index("ix_customer_risk_watch", "customer_risk",
                    ["customer_id", "pd_default", "tier", "overdue_amount"])


def downgrade() -> None:
    op.drop_index("ix_customer_risk_watch", table_name="customer_risk")
    op.drop_index("ix_score_default_before", table_name="score")
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_column("overdue_amount")
