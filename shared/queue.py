"""The work queue: enqueue inside the business transaction, claim with a lease, ack or retry.

At-least-once delivery: a consumer that dies mid-batch simply lets its lease expire and
another claims the item again, so handlers must be idempotent. PostgreSQL claims with
``FOR UPDATE SKIP LOCKED`` so replicas never wait on each other; SQLite (one writer) runs
the same single UPDATE … RETURNING, which its write lock already makes exclusive.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.models import WorkItem, utcnow
from shared.settings import get_settings

PENDING = "pending"
DEAD = "dead"


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


def _insert_for(session: Session) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)


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
    settings = get_settings()
    now = utcnow()
    values = {
        "topic": topic,
        "key": key,
        "payload": payload or {},
        "status": PENDING,
        "coalesce_key": f"{topic}:{key}" if coalesce else None,
        "coalesced": 0,
        "attempts": 0,
        "max_attempts": settings.queue_max_attempts,
        "available_at": now + (delay or dt.timedelta()),
        "created_at": now,
        "updated_at": now,
    }
    stmt = _insert_for(session)(WorkItem).values(**values)
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


def enqueue_many(session: Session, items: Sequence[dict[str, Any]], *, coalesce: bool) -> None:
    """Enqueue several items; each dict holds topic, key and payload."""
    for item in items:
        enqueue(session, topic=item["topic"], key=item["key"], payload=item.get("payload"),
                coalesce=coalesce)


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
    claimable = (
        select(WorkItem.id)
        .where(
            WorkItem.topic.in_(list(topics)),
            WorkItem.status == PENDING,
            WorkItem.available_at <= now,
            or_(WorkItem.locked_until.is_(None), WorkItem.locked_until < now),
        )
        .order_by(WorkItem.available_at, WorkItem.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        claimable = claimable.with_for_update(skip_locked=True)
    stmt = (
        update(WorkItem)
        .where(WorkItem.id.in_(claimable.scalar_subquery()))
        .values(
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=WorkItem.attempts + 1,
            # Claimed items stop absorbing new enqueues: work that arrives while this one
            # runs must run again after it.
            coalesce_key=None,
            updated_at=now,
        )
        .returning(WorkItem.id, WorkItem.topic, WorkItem.key, WorkItem.payload,
                   WorkItem.attempts, WorkItem.coalesced, WorkItem.max_attempts)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(stmt).all()
    return sorted((ClaimedItem(*row) for row in rows), key=lambda item: item.id)


def _owned(item_id: int, worker_id: str) -> Any:
    return and_(WorkItem.id == item_id, WorkItem.locked_by == worker_id)


def ack(session: Session, item_id: int, *, worker_id: str) -> bool:
    """Remove a finished item; False when our lease was lost and someone else holds it."""
    result = session.execute(
        delete(WorkItem).where(_owned(item_id, worker_id))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter, capped."""
    settings = get_settings()
    ceiling = min(settings.queue_backoff_max_seconds,
                  settings.queue_backoff_base_seconds * 2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=ceiling * (0.5 + random.random() / 2))


def fail(session: Session, item_id: int, *, worker_id: str, error: str) -> str | None:
    """Record a failure: retry later with backoff, or dead-letter after max attempts."""
    item = session.execute(
        select(WorkItem.attempts, WorkItem.max_attempts).where(_owned(item_id, worker_id))
    ).one_or_none()
    if item is None:
        return None
    attempts, max_attempts = item
    now = utcnow()
    status = DEAD if attempts >= max_attempts else PENDING
    session.execute(
        update(WorkItem).where(_owned(item_id, worker_id)).values(
            status=status,
            locked_by=None,
            locked_until=None,
            last_error=error[:4000],
            available_at=now + backoff_delay(attempts) if status == PENDING else now,
            updated_at=now,
        ).execution_options(synchronize_session=False)
    )
    return status


def retry_dead(session: Session, item_id: int) -> bool:
    """Give a dead-lettered item a fresh set of attempts."""
    now = utcnow()
    result = session.execute(
        update(WorkItem).where(WorkItem.id == item_id, WorkItem.status == DEAD)
        .values(status=PENDING, attempts=0, available_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_items(
    session: Session, *, status: str, topic: str | None = None, limit: int = 100, offset: int = 0
) -> list[WorkItem]:
    query = select(WorkItem).where(WorkItem.status == status)
    if topic:
        query = query.where(WorkItem.topic == topic)
    return list(session.scalars(query.order_by(WorkItem.id).limit(limit).offset(offset)))


def depth(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(WorkItem.topic, WorkItem.status, func.count()).group_by(
            WorkItem.topic, WorkItem.status)
    ).all()
    return {(topic, status): count for topic, status, count in rows}
