"""indexes for the portfolio reports: narrow customer_risk columns, the overdue customers,
the customers' industry and country, the drill customers

The portfolio and concentration reports need each customer's tier, credit currency and
outstanding balance; a sequential scan of ``customer_risk`` reads kilobytes per customer
(features and reasons), 45,000 pages at 100,000 customers. The watch list's covering index
(0012) gains the currency and the balance and becomes ``ix_customer_risk_current``, so those
reports read it alone (PostgreSQL: index-only, once vacuumed) and a rescore writes no more
index entries than before.

The aging report needs the days past due, inside ``features``, so it reads rows; the
partial ``ix_customer_risk_overdue`` finds the overdue customers' rows (a quarter of the
table at 100,000 simulated customers) instead of a scan of all.

The portfolio and concentration reports group by the customer's industry and country:
``ix_customer_report`` holds those (and the currency and drill flag) in customer order, so
they are merge-joined with ``ix_customer_risk_current``, both read index-only (portfolio
at 100,000 customers: 110 -> 57 ms).

Every report leaves drill customers out; ``ix_customer_drill`` holds the drill customers
alone (a partial index), so that is an anti-join against a handful of rows, not a scan of
every customer for its flag.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_customer_risk_watch", table_name="customer_risk")
    op.create_index("ix_customer_risk_current", "customer_risk",
                    ["customer_id", "pd_default", "tier", "overdue_amount", "credit_currency",
                     "outstanding_balance"])
    op.create_index("ix_customer_risk_overdue", "customer_risk", ["customer_id"],
                    postgresql_where=sa.text("overdue_amount > 0"),
                    sqlite_where=sa.text("overdue_amount > 0"))
    op.create_index("ix_customer_report", "customer",
                    ["customer_id", "industry", "country", "credit_currency", "is_drill"])
    op.create_index("ix_customer_drill", "customer", ["customer_id"],
                    postgresql_where=sa.text("is_drill"), sqlite_where=sa.text("is_drill = 1"))


def downgrade() -> None:
    op.drop_index("ix_customer_drill", table_name="customer")
    op.drop_index("ix_customer_report", table_name="customer")
    op.drop_index("ix_customer_risk_overdue", table_name="customer_risk")
    op.drop_index("ix_customer_risk_current", table_name="customer_risk")
    op.create_index("ix_customer_risk_watch", "customer_risk",
                    ["customer_id", "pd_default", "tier", "overdue_amount"])
