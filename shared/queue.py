"""The work queue: enqueue inside the business transaction, claim with a lease, ack or retry.

At-least-once delivery: a consumer that dies mid-batch simply lets its lease expire and
another claims the item again, so handlers must be idempotent. PostgreSQL claims with
``FOR UPDATE SKIP LOCKED`` so replicas never wait on each other; SQLite (one writer) runs
the same single UPDATE … RETURNING, which its write lock already makes exclusive.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from shared import jsontext
from shared.db import dialect_insert, is_postgres, statement
from shared.models import WorkItem, utcnow
from shared.settings import get_settings
from shared.topics import NoConsumer, has_consumer


class ItemStatus(StrEnum):
    """A work item's state. A claimed item stays ``pending`` (its lease says who holds it);
    a finished one is deleted."""

    PENDING = "pending"
    DEAD = "dead"  # out of attempts: waits for an operator's retry


@dataclass(frozen=True)
class ClaimedItem:
    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    attempts: int
    coalesced: int
    max_attempts: int

    @property
    def final_attempt(self) -> bool:
        """True when a failure now sends the item to the dead letters."""
        return self.attempts >= self.max_attempts


def enqueue(
    session: Session,
    *,
    topic: str,
    key: str,
    payload: dict[str, Any] | None = None,
    coalesce: bool = False,
    delay: dt.timedelta | None = None,
) -> None:
    """Add a work item in the caller's transaction (nothing is committed here).

    With ``coalesce=True`` a burst for the same (topic, key) stays one pending item: the
    later payload wins and ``coalesced`` counts how many were merged into it.
    """
    _require_consumer(topic)
    settings = get_settings()
    now = utcnow()
    values = {
        "topic": topic,
        "key": key,
        "payload": payload or {},
        "status": ItemStatus.PENDING,
        "coalesce_key": _coalesce_key(topic, key) if coalesce else None,
        "coalesced": 0,
        "attempts": 0,
        "max_attempts": settings.queue_max_attempts,
        "available_at": now + (delay or dt.timedelta()),
        "created_at": now,
        "updated_at": now,
    }
    stmt = dialect_insert(session)(WorkItem).values(**values)
    if coalesce:
        stmt = stmt.on_conflict_do_update(
            index_elements=[WorkItem.coalesce_key],
            set_={
                "payload": stmt.excluded.payload,
                "coalesced": WorkItem.coalesced + 1,
                "updated_at": now,
            },
        )
    session.execute(stmt)


def enqueue_batch(
    session: Session, *, topic: str, items: Iterable[tuple[str, dict[str, Any]]],
    coalesce: bool, now: dt.datetime,
) -> None:
    """Enqueue many work items in one statement, with the semantics of :func:`enqueue` (a
    batch of 1,000 events cannot afford a statement per item). With ``coalesce`` the items
    for one key merge into one row (the later payload wins), and keys are written in sorted
    order so concurrent batches lock coalesce keys in the same order (no deadlock).

    One difference from ``enqueue``: a pending item that already carries the same payload
    is locked but not rewritten, so ``coalesced`` counts merges within one call and merges
    that changed the payload. Rewriting the row for every event about a customer cost 40 %
    of a batch's database time (a new row version and index entries each time); the lock
    is what matters, as it keeps a worker from claiming the item until this transaction
    commits, so the claimed work always sees the new data.
    """
    _require_consumer(topic)
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
            "topic": topic, "key": key, "payload": payload, "status": ItemStatus.PENDING,
            "coalesce_key": _coalesce_key(topic, key) if coalesce else None, "coalesced": extra,
            "attempts": 0, "max_attempts": max_attempts, "available_at": now,
            "created_at": now, "updated_at": now,
        })
    if not rows:
        return
    if is_postgres(session):
        _pg_enqueue(session, topic=topic, rows=rows, coalesce=coalesce, now=now,
                    max_attempts=max_attempts)
        return
    stmt = dialect_insert(session)(WorkItem)
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


def _require_consumer(topic: str) -> None:
    if not has_consumer(topic):
        raise NoConsumer(topic)


def _coalesce_key(topic: str, key: str) -> str:
    # The same format is built in SQL by pg_enqueue_coalesced: keep the two together.
    return f"{topic}:{key}"


_PG_INSERT = """
    INSERT INTO work_item (topic, key, payload, status, coalesce_key, coalesced, attempts,
                           max_attempts, available_at, created_at, updated_at)
"""
# A pending item that already carries the payload is locked, not rewritten (see
# enqueue_batch).
_PG_COALESCE = """
    ON CONFLICT (coalesce_key) DO UPDATE SET
        payload = excluded.payload,
        coalesced = work_item.coalesced + excluded.coalesced + 1,
        updated_at = excluded.updated_at
    WHERE work_item.payload IS DISTINCT FROM excluded.payload
"""
_PG_ENQUEUE = _PG_INSERT + """
    SELECT :topic, key, payload, :status, coalesce_key, coalesced, 0, :max_attempts,
           :now, :now, :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS t(key text, payload jsonb, coalesce_key text, coalesced int)
"""


def _pg_enqueue(session: Session, *, topic: str, rows: list[dict[str, Any]], coalesce: bool,
                now: dt.datetime, max_attempts: int) -> None:
    """PostgreSQL: the rows travel as one JSON document, unpacked server-side."""
    document = jsontext.dumps([{"key": r["key"], "payload": r["payload"],
                                "coalesce_key": r["coalesce_key"], "coalesced": r["coalesced"]}
                               for r in rows])
    sql = _PG_ENQUEUE + (_PG_COALESCE if coalesce else "")
    session.execute(statement(sql), {"topic": topic, "status": ItemStatus.PENDING.value,
                                "max_attempts": max_attempts, "now": now, "rows": document})


@dataclass(frozen=True)
class Fragment:
    """SQL that a larger PostgreSQL statement embeds as one of its CTEs, with its own bind
    parameters (named after the topic, so several fragments fit in one statement)."""

    sql: str
    params: dict[str, Any]


def _fragment_params(topic: str, now: dt.datetime) -> tuple[str, dict[str, Any]]:
    prefix = "q_" + re.sub(r"\W", "_", topic)
    return prefix, {f"{prefix}_topic": topic, f"{prefix}_status": ItemStatus.PENDING.value,
                    f"{prefix}_max_attempts": get_settings().queue_max_attempts,
                    f"{prefix}_now": now}


def pg_enqueue_each(*, topic: str, source: str, key: str, payload: str,
                    now: dt.datetime) -> Fragment:
    """PostgreSQL: enqueue one item per row of ``source`` (a CTE of the same statement), so a
    statement that writes business rows enqueues their work in the same round trip (ingest
    stores a batch of events that way). ``key`` and ``payload`` are SQL expressions over
    the rows of ``source``."""
    _require_consumer(topic)
    p, params = _fragment_params(topic, now)
    sql = _PG_INSERT + f"""
    SELECT CAST(:{p}_topic AS text), {key}, {payload}, CAST(:{p}_status AS text), NULL, 0, 0,
           CAST(:{p}_max_attempts AS int), CAST(:{p}_now AS timestamptz),
           CAST(:{p}_now AS timestamptz), CAST(:{p}_now AS timestamptz)
    FROM {source}
"""
    return Fragment(sql, params)


def pg_enqueue_coalesced(*, topic: str, source: str, key: str, payload: dict[str, Any],
                         now: dt.datetime) -> Fragment:
    """PostgreSQL: like :func:`pg_enqueue_each`, but one coalesced item per distinct key,
    all with ``payload``: the semantics of ``enqueue_batch(coalesce=True)``, keys in order
    (so concurrent statements lock coalesce keys in the same order)."""
    _require_consumer(topic)
    p, params = _fragment_params(topic, now)
    params[f"{p}_payload"] = jsontext.dumps(payload)
    sql = _PG_INSERT + f"""
    SELECT CAST(:{p}_topic AS text), {key}, CAST(:{p}_payload AS jsonb),
           CAST(:{p}_status AS text), CAST(:{p}_topic AS text) || ':' || {key}, count(*) - 1, 0,
           CAST(:{p}_max_attempts AS int), CAST(:{p}_now AS timestamptz),
           CAST(:{p}_now AS timestamptz), CAST(:{p}_now AS timestamptz)
    FROM {source} GROUP BY {key} ORDER BY {key}
""" + _PG_COALESCE
    return Fragment(sql, params)


def claim(
    session: Session,
    *,
    topics: Sequence[str],
    worker_id: str,
    limit: int = 50,
    lease: dt.timedelta | None = None,
) -> list[ClaimedItem]:
    """Lease up to ``limit`` available items; commit right after so the lease is visible."""
    settings = get_settings()
    now = utcnow()
    lease = lease or dt.timedelta(seconds=settings.queue_lease_seconds)
    statement = _claim_statement(tuple(topics), is_postgres(session))
    rows = session.execute(statement, {"now": now, "limit": limit, "worker_id": worker_id,
                                       "locked_until": now + lease}).all()
    return sorted((ClaimedItem(*row) for row in rows), key=lambda item: item.id)


ITEMS: Table = WorkItem.__table__  # type: ignore[assignment]


@functools.lru_cache(maxsize=64)
def _claim_statement(topics: tuple[str, ...], postgres: bool) -> Update:
    """The claim for one set of topics, built once with every changing value bound: built
    per claim, the statement and its cache key were half of a claim's CPU in a busy
    worker (py-spy). On the table, not through the ORM's bulk-update path, for the same
    reason."""
    item = ITEMS.c
    now = bindparam("now", type_=item.available_at.type)
    claimable = (
        select(item.id)
        .where(
            or_(*(item.topic == topic for topic in topics)),
            item.status == ItemStatus.PENDING.value,
            item.available_at <= now,
            or_(item.locked_until.is_(None), item.locked_until < now),
        )
        .order_by(item.available_at, item.id)
        .limit(bindparam("limit", type_=Integer))
    )
    chosen: Any = claimable.scalar_subquery()
    if postgres:
        # Chosen once, in a MATERIALIZED CTE: as a plain IN (subquery) the planner may run
        # a nested loop that re-runs the LIMIT … SKIP LOCKED subquery per row (it did with
        # statistics taken while the queue was empty), and concurrent claimers then took
        # 2,000-3,000 items each with limit 500 (tests/platform/test_queue.py).
        picked = claimable.with_for_update(skip_locked=True).cte("claimable") \
            .prefix_with("MATERIALIZED")
        chosen = select(picked.c.id)
    return (
        update(ITEMS)
        .where(item.id.in_(chosen))
        .values(
            locked_by=bindparam("worker_id", type_=item.locked_by.type),
            locked_until=bindparam("locked_until", type_=item.locked_until.type),
            attempts=item.attempts + 1,
            # Claimed items stop absorbing new enqueues: work that arrives while this one
            # runs must run again after it.
            coalesce_key=None,
            updated_at=now,
        )
        .returning(item.id, item.topic, item.key, item.payload, item.attempts,
                   item.coalesced, item.max_attempts)
    )


def _owned(item_id: int, worker_id: str) -> Any:
    return and_(WorkItem.id == item_id, WorkItem.locked_by == worker_id)


def ack(session: Session, item_id: int, *, worker_id: str) -> bool:
    """Remove a finished item; False when our lease was lost and someone else holds it."""
    result = session.execute(
        delete(WorkItem).where(_owned(item_id, worker_id))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


_ACK_MANY = delete(ITEMS).where(ITEMS.c.id.in_(bindparam("item_ids", expanding=True)),
                                ITEMS.c.locked_by == bindparam("worker_id"))


def ack_many(session: Session, item_ids: Sequence[int], *, worker_id: str) -> int:
    """Remove finished items in one statement (a batch of 500 spent most of its time on one
    DELETE per item); returns how many were still ours: fewer than given means a lease was
    lost and the caller must undo its effects."""
    if not item_ids:
        return 0
    result = session.execute(_ACK_MANY, {"item_ids": list(item_ids), "worker_id": worker_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def backoff_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter, capped."""
    settings = get_settings()
    ceiling = min(settings.queue_backoff_max_seconds,
                  settings.queue_backoff_base_seconds * 2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=ceiling * (0.5 + random.random() / 2))


def fail(session: Session, item_id: int, *, worker_id: str,
         error: str) -> ItemStatus | None:
    """Record a failure: retry later with backoff, or dead-letter after max attempts."""
    item = session.execute(
        select(WorkItem.attempts, WorkItem.max_attempts).where(_owned(item_id, worker_id))
    ).one_or_none()
    if item is None:
        return None
    attempts, max_attempts = item
    now = utcnow()
    status = ItemStatus.DEAD if attempts >= max_attempts else ItemStatus.PENDING
    session.execute(
        update(WorkItem).where(_owned(item_id, worker_id)).values(
            status=status,
            locked_by=None,
            locked_until=None,
            last_error=error[:4000],
            available_at=now + backoff_delay(attempts) if status == ItemStatus.PENDING else now,
            updated_at=now,
        ).execution_options(synchronize_session=False)
    )
    return status


def retry_dead(session: Session, item_id: int) -> bool:
    """Give a dead-lettered item a fresh set of attempts."""
    now = utcnow()
    result = session.execute(
        update(WorkItem).where(WorkItem.id == item_id, WorkItem.status == ItemStatus.DEAD)
        .values(status=ItemStatus.PENDING, attempts=0, available_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_items(
    session: Session, *, status: ItemStatus, topic: str | None = None, limit: int = 100,
    offset: int = 0,
) -> list[WorkItem]:
    query = select(WorkItem).where(WorkItem.status == status)
    if topic:
        query = query.where(WorkItem.topic == topic)
    return list(session.scalars(query.order_by(WorkItem.id).limit(limit).offset(offset)))


@dataclass(frozen=True)
class TopicDepth:
    topic: str
    status: ItemStatus
    count: int
    oldest_created_at: dt.datetime


def depth(session: Session) -> list[TopicDepth]:
    """Items per (topic, status), with when the oldest of them was first enqueued (a
    coalesced item keeps its first ``created_at``, so that is how long work has waited)."""
    rows = session.execute(
        select(WorkItem.topic, WorkItem.status, func.count(), func.min(WorkItem.created_at))
        .group_by(WorkItem.topic, WorkItem.status)
    ).all()
    # Sorted here, not by the database, whose collation may order the names differently.
    return sorted((TopicDepth(topic, ItemStatus(status), count, oldest)
                   for topic, status, count, oldest in rows),
                  key=lambda d: (d.topic, d.status))
