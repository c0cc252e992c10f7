"""Rescoring many customers: set-based feature queries and bulk writes, batch by batch, each
batch its own transaction (a crash loses at most one batch, and the retry redoes it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from services.scoring.features.service import features_for
from services.scoring.jobs.service import Progress
from services.scoring.scores import engine
from services.scoring.scores.service import rescore_page, score_frame
from services.scoring.tiers.service import current_policy
from shared.db import Database
from shared.models import Customer, utcnow
from shared.models.scoring import CustomerRisk, ScoringJob

BATCH = 2000


def selected_ids(db: Database, flt: dict[str, Any]) -> list[str] | None:
    """Ids matching a filter, or None for everyone (paged by id instead)."""
    if not flt:
        return None
    with db.transaction() as session:
        query = select(Customer.customer_id).order_by(Customer.customer_id)
        if flt.get("customer_ids"):
            query = query.where(Customer.customer_id.in_(flt["customer_ids"]))
        if flt.get("industry"):
            query = query.where(Customer.industry == flt["industry"])
        if flt.get("tiers"):
            query = query.join(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id
                               ).where(CustomerRisk.tier.in_(flt["tiers"]))
        return list(session.scalars(query))


def run_rescore(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
    flt = dict(job.request.get("filter") or {})
    trigger = str(job.request.get("trigger") or "rescore")[:50]
    batch = int(job.request.get("batch_size") or BATCH)
    ids = selected_ids(db, flt)
    with db.transaction() as session:
        total = len(ids) if ids is not None else int(
            session.scalar(select(func.count()).select_from(Customer)) or 0)
        policy = current_policy(session)
        scorers = engine.champions(session)
    done = 0
    if ids is None:
        after: str | None = None
        while True:
            with db.transaction() as session:
                count, after = rescore_page(session, after=after, limit=batch,
                                            trigger=trigger, policy=policy, scorers=scorers)
            done += count
            progress(f"scored {done}/{total}", done / max(total, 1))
            if count < batch:
                break
    else:
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            with db.transaction() as session:
                now = utcnow()
                frame = features_for(session, customer_ids=chunk, as_of=now)
                score_frame(session, frame, trigger=trigger, now=now, policy=policy,
                            scorers=scorers)
            done += len(chunk)
            progress(f"scored {done}/{total}", done / max(total, 1))
    return {"customers": done, "filter": flt}
