"""SQL for the risk file (profile snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import dialect_insert
from shared.models.reviews import ProfileSnapshot


def insert_snapshots(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert; a row whose dedupe key is already stored (a redelivery) is skipped."""
    if rows:
        stmt = dialect_insert(session)(ProfileSnapshot).on_conflict_do_nothing()
        session.execute(stmt, list(rows))


def page(session: Session, *, customer_id: str, before_id: int | None,
         limit: int) -> list[ProfileSnapshot]:
    query = select(ProfileSnapshot).where(ProfileSnapshot.customer_id == customer_id)
    if before_id is not None:
        query = query.where(ProfileSnapshot.id < before_id)
    return list(session.scalars(query.order_by(ProfileSnapshot.id.desc()).limit(limit)))


def last_review_snapshot(session: Session, customer_id: str, *,
                         before_review_id: int) -> ProfileSnapshot | None:
    """The snapshot of the customer's last completed review before this one."""
    return session.scalars(
        select(ProfileSnapshot)
        .where(ProfileSnapshot.customer_id == customer_id, ProfileSnapshot.cause == "review",
               ProfileSnapshot.review_id < before_review_id)
        .order_by(ProfileSnapshot.id.desc()).limit(1)).first()
