"""SQL for scoring jobs and their work items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.models import WorkItem, utcnow
from shared.models.scoring import ScoringJob


def get(session: Session, job_id: int) -> ScoringJob | None:
    return session.get(ScoringJob, job_id)


def list_jobs(session: Session, *, kind: str | None, limit: int, offset: int) -> list[ScoringJob]:
    query = select(ScoringJob).order_by(ScoringJob.id.desc()).limit(limit).offset(offset)
    if kind:
        query = query.where(ScoringJob.kind == kind)
    return list(session.scalars(query))


def update_job(session: Session, job_id: int, **values: Any) -> None:
    session.execute(update(ScoringJob).where(ScoringJob.id == job_id).values(**values)
                    .execution_options(synchronize_session=False))


def extend_lease(session: Session, item_id: int, seconds: float) -> None:
    """Keep a long job's work item leased while it makes progress, so no other replica
    starts the same job; if this process dies, the lease lapses and the job is retried."""
    session.execute(update(WorkItem).where(WorkItem.id == item_id,
                                           WorkItem.locked_until.is_not(None))
                    .values(locked_until=utcnow() + dt.timedelta(seconds=seconds))
                    .execution_options(synchronize_session=False))
