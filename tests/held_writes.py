"""Hold a table's writes back from a test, to watch what queues behind them (group commit)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from shared.db import Database


@contextmanager
def writes_held(db: Database, engine_name: str, database_url: str, *,
                table: str) -> Iterator[None]:
    """Until the block ends, writes to ``table`` wait: PostgreSQL, a SHARE lock on it held
    by another connection; SQLite, the database's one write lock."""
    if engine_name == "postgresql":
        with db.engine.connect() as conn, conn.begin():
            conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE MODE"))
            yield
        return
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("COMMIT")
    finally:
        holder.close()


def wait_until_blocked(db: Database, engine_name: str) -> None:
    """Until a write waits for the held lock (PostgreSQL shows it; on SQLite, a moment)."""
    if engine_name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # A new transaction each time: pg_stat_activity is a snapshot per transaction.
        with db.engine.connect() as conn:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("no write reached the held lock")


def transactions_of(db: Database, *, table: str, where: str, **params: object) -> int:
    """How many transactions wrote the rows of ``table`` that match (PostgreSQL's xmin)."""
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(
            f"SELECT count(DISTINCT xmin::text) FROM {table} WHERE {where}"), params).scalar()
                   or 0)
