"""SQL for review policy versions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.models.reviews import ReviewPolicy


def latest(session: Session) -> ReviewPolicy | None:
    return session.scalars(select(ReviewPolicy).order_by(ReviewPolicy.version.desc())
                           .limit(1)).first()


def versions(session: Session, *, limit: int, offset: int) -> list[ReviewPolicy]:
    return list(session.scalars(select(ReviewPolicy).order_by(ReviewPolicy.version.desc())
                                .limit(limit).offset(offset)))


def next_version(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(ReviewPolicy.version), 0)))
               or 0) + 1
