"""Database.read(): a read-only unit. A write inside one is refused at once (on SQLite it
would vanish with the deferred transaction, on PostgreSQL commit statement by statement),
and on SQLite a read does not queue behind a writer holding the write lock."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from shared.db import Database, WriteInReadError
from shared.models.base import utcnow
from shared.models.platform import WorkItem


def _item(topic: str) -> dict[str, object]:
    return {"topic": topic, "key": topic, "payload": {}, "max_attempts": 1,
            "available_at": utcnow()}


def _count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(WorkItem)) or 0


def test_a_core_insert_in_a_read_is_refused_and_stores_nothing(db: Database) -> None:
    with pytest.raises(WriteInReadError), db.read() as session:
        session.execute(sa.insert(WorkItem).values(**_item("test.refused")))
    assert _count(db) == 0


def test_an_orm_add_in_a_read_is_refused_at_flush(db: Database) -> None:
    with pytest.raises(WriteInReadError), db.read() as session:
        session.add(WorkItem(**_item("test.refused")))
        session.flush()
    assert _count(db) == 0


def test_a_read_answers_while_a_writer_holds_the_write_lock(db: Database) -> None:
    with db.transaction() as session:
        session.add(WorkItem(**_item("test.seen")))
    writer = db.engine.connect()
    try:
        writer.begin()  # BEGIN IMMEDIATE on SQLite: the write lock until rollback
        writer.execute(sa.insert(WorkItem).values(**_item("test.pending")))
        started = time.monotonic()
        assert _count(db) == 1  # the committed row only, without waiting for the writer
        with db.read_transaction() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(WorkItem)) == 1
        # The busy timeout is 30 s: a read that queued would take that long, not this.
        assert time.monotonic() - started < 5
    finally:
        writer.rollback()
        writer.close()


def test_a_read_transaction_keeps_set_local_and_refuses_writes(db: Database,
                                                               engine_name: str) -> None:
    with db.read_transaction() as session:
        if engine_name == "postgresql":
            session.execute(sa.text("SET LOCAL work_mem = '77MB'"))
            assert session.scalar(sa.text("SHOW work_mem")) == "77MB"
            assert session.scalar(sa.text("SHOW transaction_read_only")) == "on"
        assert _count(db) == 0
    with pytest.raises(WriteInReadError), db.read_transaction() as session:
        session.execute(sa.insert(WorkItem).values(**_item("test.refused")))
    assert _count(db) == 0
