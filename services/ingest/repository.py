"""SQL shared by the ingest domains: dialect-aware upserts and set-based queue writes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.models import WorkItem
from shared.queue import PENDING
from shared.settings import get_settings


def insert_for(session: Session) -> Any:
    """The dialect's INSERT (both speak ON CONFLICT … DO NOTHING / DO UPDATE)."""
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)


def enqueue_rows(
    session: Session, *, topic: str, items: Iterable[tuple[str, dict[str, Any]]],
    coalesce: bool, now: dt.datetime,
) -> None:
    """Enqueue many work items in one statement, with the semantics of ``shared.queue.enqueue``.

    ``shared.queue.enqueue_many`` issues one statement per item; a batch of 1,000 events
    needs this set-based form. With ``coalesce`` the items for one key merge into one row
    (the later payload wins), and keys are written in sorted order so concurrent batches
    lock coalesce keys in the same order (no deadlock).

    One difference from ``enqueue``: a pending item that already carries the same payload
    is locked but not rewritten, so ``coalesced`` counts merges within one call and merges
    that changed the payload. Rewriting the row for every event about a customer cost 40 %
    of a batch's database time (a new row version and index entries each time); the lock
    is what matters, as it keeps a worker from claiming the item until this transaction
    commits, so the claimed work always sees the new data.
    """
    max_attempts = get_settings().queue_max_attempts
    rows: list[dict[str, Any]] = []
    if coalesce:
        merged: dict[str, tuple[dict[str, Any], int]] = {}
        for key, payload in items:
            previous = merged.get(key)
            merged[key] = (payload, previous[1] + 1 if previous else 0)
        pairs = [(key, payload, extra) for key, (payload, extra) in sorted(merged.items())]
    else:
        pairs = [(key, payload, 0) for key, payload in items]
    for key, payload, extra in pairs:
        rows.append({
            "topic": topic, "key": key, "payload": payload, "status": PENDING,
            "coalesce_key": f"{topic}:{key}" if coalesce else None, "coalesced": extra,
            "attempts": 0, "max_attempts": max_attempts, "available_at": now,
            "created_at": now, "updated_at": now,
        })
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _pg_enqueue(session, topic=topic, rows=rows, coalesce=coalesce, now=now,
                    max_attempts=max_attempts)
        return
    stmt = insert_for(session)(WorkItem)
    if coalesce:
        stmt = stmt.on_conflict_do_update(
            index_elements=[WorkItem.coalesce_key],
            set_={
                "payload": stmt.excluded.payload,
                "coalesced": WorkItem.coalesced + stmt.excluded.coalesced + 1,
                "updated_at": stmt.excluded.updated_at,
            },
            where=WorkItem.payload != stmt.excluded.payload,
        )
    session.execute(stmt, rows)


_PG_ENQUEUE = """
    INSERT INTO work_item (topic, key, payload, status, coalesce_key, coalesced, attempts,
                           max_attempts, available_at, created_at, updated_at)
    SELECT :topic, key, payload, :status, coalesce_key, coalesced, 0, :max_attempts,
           :now, :now, :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS t(key text, payload jsonb, coalesce_key text, coalesced int)
"""
_PG_COALESCE = """
    ON CONFLICT (coalesce_key) DO UPDATE SET
        payload = excluded.payload,
        coalesced = work_item.coalesced + excluded.coalesced + 1,
        updated_at = excluded.updated_at
    WHERE work_item.payload IS DISTINCT FROM excluded.payload
"""


def _pg_enqueue(session: Session, *, topic: str, rows: list[dict[str, Any]], coalesce: bool,
                now: dt.datetime, max_attempts: int) -> None:
    """PostgreSQL: the rows travel as one JSON document (see events.repository)."""
    document = json.dumps([{"key": r["key"], "payload": r["payload"],
                            "coalesce_key": r["coalesce_key"], "coalesced": r["coalesced"]}
                           for r in rows], separators=(",", ":"))
    sql = _PG_ENQUEUE + (_PG_COALESCE if coalesce else "")
    session.execute(text(sql), {"topic": topic, "status": PENDING, "max_attempts": max_attempts,
                                "now": now, "rows": document})
