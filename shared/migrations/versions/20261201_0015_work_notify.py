"""work_item: a notification when work is enqueued (PostgreSQL), so idle workers need not
poll fast

A statement-level trigger sends ``NOTIFY riskwatch_work`` for each INSERT into
``work_item``; PostgreSQL delivers it when the enqueuing transaction commits, and folds the
notifications of one transaction into one. Workers LISTEN and claim at once (shared/worker.py
``Wakeups``), and poll only as a fallback. Polling every 0.1 s had cost an idle stack about a
fifth of a core across its worker loops (bench/README.md). SQLite has no NOTIFY: its workers
keep polling.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION riskwatch_work_enqueued() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('riskwatch_work', '');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER work_item_enqueued AFTER INSERT ON work_item
        FOR EACH STATEMENT EXECUTE FUNCTION riskwatch_work_enqueued()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER work_item_enqueued ON work_item")
    op.execute("DROP FUNCTION riskwatch_work_enqueued()")
