"""the overdue amount in the score history, so the watch list can tell whose overdue grew

Each default score row keeps the overdue amount it was scored with (NULL for rows written
before this revision: the watch list then has nothing to compare and shows no change).

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


def downgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_column("overdue_amount")
