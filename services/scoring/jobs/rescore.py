"""Rescoring many customers: set-based feature queries and bulk writes, batch by batch, each
batch its own transaction (a crash loses the batches in flight, and the retry redoes them)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from services.scoring.features.service import features_for, stored_features_page
from services.scoring.jobs.service import Progress
from services.scoring.scores import engine
from services.scoring.scores.service import score_frame
from services.scoring.settings import get_scoring_settings
from services.scoring.tiers.service import TierPolicy, current_policy
from shared.db import Database, is_postgres
from shared.models import Customer, utcnow
from shared.models.scoring import CustomerRisk, ScoringJob


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


def never_scored(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(
            select(Customer.customer_id)
            .outerjoin(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
            .where(CustomerRisk.customer_id.is_(None)).order_by(Customer.customer_id)))


def _page_ids(db: Database, after: str | None, batch: int, stored: bool) -> list[str]:
    """The next page's customers in id order (an index range): every customer, or for a
    rescore of stored vectors every scored one."""
    table = CustomerRisk if stored else Customer
    with db.read() as session:
        return list(session.scalars(select(table.customer_id)
                                    .where(table.customer_id > (after or ""))
                                    .order_by(table.customer_id).limit(batch)))


def _score_page(db: Database, ids: list[str], *, trigger: str, policy: TierPolicy,
                scorers: dict[str, engine.Scorer], stored: bool) -> int:
    with db.transaction() as session:
        if stored:
            frame = stored_features_page(session, after=None, limit=len(ids), customer_ids=ids)
        else:
            frame = features_for(session, customer_ids=ids, as_of=utcnow())
        score_frame(session, frame, trigger=trigger, now=utcnow() if stored else frame.as_of,
                    policy=policy, scorers=scorers, explain_later=stored)
    return len(frame)


def _rescore_all(db: Database, *, batch: int, trigger: str, total: int, progress: Progress,
                 policy: TierPolicy, scorers: dict[str, engine.Scorer], stored: bool) -> int:
    """Everyone in id order, page by page: up to ``rescore_pages_in_flight`` pages at once,
    each fetched, scored and written on its own thread, connection and transaction. A page
    spends most of its time waiting on the database (its feature query, its writes), which
    then works on one core while the next page is computed on the other. The pages hold
    different customers, so they never touch the same rows."""
    # SQLite writes one transaction at a time: a second page would only wait for the first.
    in_flight = get_scoring_settings().rescore_pages_in_flight if is_postgres(db.engine) else 1
    done = 0
    pending: deque[Future[int]] = deque()

    def settle(keep: int) -> None:
        nonlocal done
        while len(pending) > keep:
            done += pending.popleft().result()
            progress(f"scored {done}/{total}", done / max(total, 1))

    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="rescore") as pool:
        after: str | None = None
        while ids := _page_ids(db, after, batch, stored):
            settle(in_flight - 1)
            pending.append(pool.submit(_score_page, db, ids, trigger=trigger, policy=policy,
                                       scorers=scorers, stored=stored))
            after = ids[-1]
        settle(0)
    return done


def run_rescore(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
    with engine.explain_threads(get_scoring_settings().rescore_explain_threads):
        return _run_rescore(db, job, progress)


def _run_rescore(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
    flt = dict(job.request.get("filter") or {})
    trigger = str(job.request.get("trigger") or "rescore")[:50]
    batch = int(job.request.get("batch_size") or get_scoring_settings().rescore_batch_size)
    # After a promotion or rollback only the model changed: score the stored vectors, and
    # explain the moved scores after (scoring.explain), so every score is current sooner.
    stored = job.request.get("features") == "stored"
    ids = selected_ids(db, flt)
    with db.transaction() as session:
        total = len(ids) if ids is not None else int(
            session.scalar(select(func.count()).select_from(Customer)) or 0)
        policy = current_policy(session)
        scorers = engine.champions(session)
    done = 0
    if ids is None:
        done = _rescore_all(db, batch=batch, trigger=trigger, total=total, progress=progress,
                            policy=policy, scorers=scorers, stored=stored)
    listed = ids if ids is not None else (never_scored(db) if stored else [])
    for start in range(0, len(listed), batch):
        chunk = listed[start:start + batch]
        with db.transaction() as session:
            now = utcnow()
            frames = []
            if stored and ids is not None:
                frames.append(stored_features_page(session, after=None, limit=len(chunk),
                                                   customer_ids=chunk))
            # Customers never scored have no stored vector: their features are computed.
            missing = set(chunk).difference(*(f.customer_ids for f in frames))
            if missing:
                frames.append(features_for(session, customer_ids=sorted(missing), as_of=now))
            for frame in frames:
                score_frame(session, frame, trigger=trigger, now=now, policy=policy,
                            scorers=scorers, explain_later=stored)
        done += len(chunk)
        progress(f"scored {done}/{total}", done / max(total, 1))
    return {"customers": done, "filter": flt, "features": "stored" if stored else "recomputed"}
