"""The report SQL: set-based aggregates over the whole portfolio (target: under 2 s each
for 100,000 customers on PostgreSQL, bench/reviews.py), drill customers left out."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVarTuple

from sqlalchemy import (
    Select,
    case,
    exists,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, aliased

from services.reviews.portfolio import (
    drill_flag_exists,
    newest_overrides,
    real_customer,
)
from shared.db import is_postgres
from shared.models import Customer
from shared.models.base import UtcDateTime
from shared.models.reviews import OPEN_STATUSES, Review
from shared.models.scoring import CustomerRisk, Score, TierOverride

Columns = TypeVarTuple("Columns")
# Reports sort and hash the whole portfolio: with PostgreSQL's default 4 MB per operation
# the migration report's sort of 300,000 scores spilled to disk. A report's transaction gets
# more (SET LOCAL: only for that transaction).
REPORT_WORK_MEM = "64MB"
# No parallel workers: a report page asks five reports at once, which already keep the
# cores busy; workers added a third of CPU on top (five reports at once at 100,000
# customers, 2 cores: 366-388 ms with two workers each, 314-316 ms without).
REPORT_PARALLEL_WORKERS = 0


def only_real_customers(query: Select[*Columns], customer_id: Any) -> Select[*Columns]:
    """``query`` without drill customers, as an anti-join against the drill customers only:
    a join to every customer row for its flag cost a 100,000-row hash per report."""
    if not drill_flag_exists():
        return query
    drill = exists().where(Customer.customer_id == customer_id, ~real_customer())
    return query.where(~drill)


def prepare(session: Session) -> None:
    """Settings for the report's transaction (the router runs each report in one)."""
    if is_postgres(session):
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = "
                             f"{REPORT_PARALLEL_WORKERS}"))


def portfolio_groups(session: Session, *, now: dt.datetime) -> list[Any]:
    """(tier in force, industry, country, currency, customers, exposure) groups."""
    newest = newest_overrides(now)
    override = aliased(TierOverride)
    tier = func.coalesce(override.tier, CustomerRisk.tier, "unscored")
    industry = func.coalesce(Customer.industry, "unknown")
    country = func.coalesce(Customer.country, "unknown")
    currency = func.coalesce(CustomerRisk.credit_currency, Customer.credit_currency, "unknown")
    query = (select(tier, industry, country, currency, func.count(),
                    func.coalesce(func.sum(CustomerRisk.outstanding_balance), 0))
             .select_from(Customer)
             .outerjoin(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
             .outerjoin(newest, newest.c.customer_id == Customer.customer_id)
             .outerjoin(override, override.id == newest.c.id)
             .where(real_customer())
             .group_by(tier, industry, country, currency))
    return list(session.execute(query))


def _tiers_before(session: Session, bound: dt.datetime) -> Any:
    """Subquery: each customer's model tier from its last default score before ``bound``.
    PostgreSQL: DISTINCT ON, one scan and one in-memory sort (2.4 s -> 1.0 s at 100,000
    customers with three scores each); elsewhere the first row by the same order. Of two
    scores at the same time, the later written (higher id) is the last, as in tiers_at."""
    scored = (Score.target == "default", Score.shadow.is_(False),
              Score.scored_at < literal(bound, UtcDateTime()))
    order = (Score.scored_at.desc(), Score.id.desc())
    if is_postgres(session):
        return (select(Score.customer_id, Score.tier).where(*scored)
                .order_by(Score.customer_id, *order)
                .ext(distinct_on(Score.customer_id)).subquery())
    ranked = (select(Score.customer_id, Score.tier,
                     func.row_number().over(partition_by=Score.customer_id,
                                            order_by=order).label("rank"))
              .where(*scored).subquery())
    return (select(ranked.c.customer_id, ranked.c.tier).where(ranked.c.rank == 1)
            .subquery())


def migration_counts(session: Session, *, start: dt.datetime, end: dt.datetime,
                     end_is_now: bool) -> list[Any]:
    """(tier before ``start``, tier before ``end``, customers) for customers scored by
    ``end``; up to now, the tier at the end is the stored current one."""
    before = _tiers_before(session, start)
    after = (select(CustomerRisk.customer_id, CustomerRisk.tier).subquery() if end_is_now
             else _tiers_before(session, end))
    from_tier = func.coalesce(before.c.tier, "unscored")
    query = only_real_customers(
        select(from_tier, after.c.tier, func.count()).select_from(after)
        .outerjoin(before, before.c.customer_id == after.c.customer_id)
        .group_by(from_tier, after.c.tier),
        after.c.customer_id)
    return list(session.execute(query))


def tiers_at(session: Session, bounds: list[dt.datetime]) -> list[Any]:
    """(model tier, first, stop, customers): a customer's last default score before
    ``bounds[i]`` has that tier for first <= i < stop (``bounds`` ascending). One pass over
    the score history (in index order on PostgreSQL), each score counted once with the span
    of bounds it is the last score for, instead of one last-score-per-customer read per
    bound (six for the overview's trend) or a row per score and bound."""
    if not bounds:
        return []
    order = (Score.scored_at.desc(), Score.id.desc())
    history = only_real_customers(
        select(Score.tier, Score.scored_at.label("at"),
               func.lag(Score.scored_at).over(partition_by=Score.customer_id,
                                              order_by=order).label("until"))
        .where(Score.target == "default", Score.shadow.is_(False),
               Score.scored_at < literal(bounds[-1], UtcDateTime())),
        Score.customer_id).subquery()

    def bounds_reached(at: Any) -> Any:  # how many bounds are at or before ``at``
        return sum((case((at >= literal(bound, UtcDateTime()), 1), else_=0)
                    for bound in bounds), literal(0))

    first = bounds_reached(history.c.at)
    # A later score at the same time (higher id) replaces this one before any bound.
    stop = case((history.c.until.is_(None), len(bounds)), else_=bounds_reached(history.c.until))
    query = (select(history.c.tier, first, stop, func.count())
             .group_by(history.c.tier, first, stop))
    return list(session.execute(query))


def current_tiers(session: Session) -> list[Any]:
    """(model tier, customers) from the stored current risk."""
    query = only_real_customers(
        select(CustomerRisk.tier, func.count()).group_by(CustomerRisk.tier),
        CustomerRisk.customer_id)
    return list(session.execute(query))


def aging_buckets(session: Session) -> list[Any]:
    """(bucket, currency, customers, overdue amount), the customer's whole overdue amount in
    the bucket of its oldest open invoice's days past due."""
    dpd = CustomerRisk.features["days_past_due"].as_float()
    bucket = case((dpd <= 30, "1-30"), (dpd <= 60, "31-60"), (dpd <= 90, "61-90"),
                  else_="90+")
    currency = func.coalesce(CustomerRisk.credit_currency, "unknown")
    query = only_real_customers(
        select(bucket, currency, func.count(), func.sum(CustomerRisk.overdue_amount))
        .where(CustomerRisk.overdue_amount > 0).group_by(bucket, currency),
        CustomerRisk.customer_id)
    return list(session.execute(query))


def _currency() -> Any:
    return func.coalesce(CustomerRisk.credit_currency, "unknown")


def largest_exposures(session: Session, *, currency: str, limit: int) -> list[Any]:
    """(customer_id, exposure) of the ``limit`` largest exposures in ``currency`` (a top-N
    sort, not a sort of the whole portfolio)."""
    query = only_real_customers(
        select(CustomerRisk.customer_id, CustomerRisk.outstanding_balance)
        .where(CustomerRisk.outstanding_balance > 0, _currency() == currency),
        CustomerRisk.customer_id
    ).order_by(CustomerRisk.outstanding_balance.desc(), CustomerRisk.customer_id).limit(limit)
    return list(session.execute(query))


def exposure_details(session: Session, customer_ids: list[str]) -> dict[str, Any]:
    """customer_id -> (name, industry, country, tier)."""
    query = (select(Customer.customer_id, Customer.name, Customer.industry, Customer.country,
                    CustomerRisk.tier)
             .join(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
             .where(Customer.customer_id.in_(customer_ids)))
    return {row[0]: row[1:] for row in session.execute(query)}


def industry_exposure(session: Session) -> list[Any]:
    """(currency, industry, customers with exposure, exposure): one scan gives both the
    industry shares and each currency's totals."""
    currency = _currency()  # one expression, so PostgreSQL sees one grouping parameter
    industry = func.coalesce(Customer.industry, "unknown")
    query = (select(currency, industry, func.count(), func.sum(CustomerRisk.outstanding_balance))
             .join(Customer, Customer.customer_id == CustomerRisk.customer_id)
             .where(CustomerRisk.outstanding_balance > 0, real_customer())
             .group_by(currency, industry))
    return list(session.execute(query))


def open_review_counts(session: Session, *, today: dt.date) -> list[Any]:
    """(tier, open, due, overdue) over open reviews."""
    tier = func.coalesce(Review.tier, "unscored")
    due = case((Review.due_on <= today, 1), else_=0)
    overdue = case((Review.overdue_at.is_not(None) | (Review.deadline_on < today), 1), else_=0)
    query = only_real_customers(
        select(tier, func.count(), func.sum(due), func.sum(overdue))
        .where(Review.status.in_(OPEN_STATUSES)).group_by(tier), Review.customer_id)
    return list(session.execute(query))


def completed_reviews(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """(tier, completed, completed by the deadline, total days from opened to completed)
    over reviews completed in [start, end)."""
    if is_postgres(session):
        done_day = func.date(func.timezone("UTC", Review.completed_at))
        days = func.extract("epoch", Review.completed_at - Review.opened_at) / 86400.0
    else:
        done_day = func.date(Review.completed_at)
        days = func.julianday(Review.completed_at) - func.julianday(Review.opened_at)
    on_time = case((done_day <= Review.deadline_on, 1), else_=0)
    tier = func.coalesce(Review.tier, "unscored")
    query = only_real_customers(
        select(tier, func.count(), func.sum(on_time), func.sum(days))
        .where(Review.status == "completed",
               Review.completed_at >= literal(start, UtcDateTime()),
               Review.completed_at < literal(end, UtcDateTime()))
        .group_by(tier), Review.customer_id)
    return list(session.execute(query))
