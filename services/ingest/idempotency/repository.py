"""SQL for idempotency keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shared.db import Lock, dialect_insert, try_xact_lock
from shared.models.ingest import IdempotencyKey


def try_lock(session: Session, owner: str, key: str) -> bool:
    """PostgreSQL: a transaction-scoped advisory lock on the key; False while another request
    holds it. SQLite already runs one writer at a time, so there is nothing to take."""
    return try_xact_lock(session, Lock.IDEMPOTENCY_KEY, f"{owner}:{key}")


def get(session: Session, owner: str, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.owner == owner, IdempotencyKey.key == key))


def insert_running(session: Session, *, owner: str, key: str, request_hash: str,
                   now: dt.datetime) -> None:
    session.execute(dialect_insert(session)(IdempotencyKey).values(
        owner=owner, key=key, request_hash=request_hash, state="running", created_at=now))


def store_answer(session: Session, *, owner: str, key: str, status: int, body: Any) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        .values(state="done", response_status=status, response_body=body)
        .execution_options(synchronize_session=False)
    )


def purge_expired(session: Session, owner: str, *, before: dt.datetime) -> None:
    """Forget this caller's keys older than the retention (bounded: one caller's keys)."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == owner,
                                                 IdempotencyKey.created_at < before)
                    .execution_options(synchronize_session=False))
