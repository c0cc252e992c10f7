"""SQL for the risk file (profile snapshots)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from shared.bulk import insert_new
from shared.models.reviews import ProfileSnapshot


def insert_snapshots(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert; a row whose dedupe key is already stored (a redelivery) is skipped."""
    table: Table = ProfileSnapshot.__table__  # type: ignore[assignment]
    insert_new(session, table, list(rows), returning="id")


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
