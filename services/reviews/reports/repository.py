"""The report SQL: set-based aggregates over the whole portfolio (target: under 2 s each
for 100,000 customers on PostgreSQL, bench/reviews.py), drill customers left out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, literal, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, aliased

from services.reviews.portfolio import newest_overrides, only_real_customers, real_customer
from shared.db import is_postgres
from shared.models import Customer
from shared.models.base import UtcDateTime
from shared.models.reviews import OPEN_STATUSES, Review
from shared.models.scoring import CustomerRisk, Score, TierOverride

# Reports sort and hash the whole portfolio: with PostgreSQL's default 4 MB per operation
# the migration report's sort of 300,000 scores spilled to disk. A report's transaction gets
# more (SET LOCAL: only for that transaction).
REPORT_WORK_MEM = "64MB"


def prepare(session: Session) -> None:
    if is_postgres(session):
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


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
    customers with three scores each); elsewhere the latest time per customer, joined back."""
    scored = (Score.target == "default", Score.shadow.is_(False),
              Score.scored_at < literal(bound, UtcDateTime()))
    if is_postgres(session):
        return (select(Score.customer_id, Score.tier).where(*scored)
                .order_by(Score.customer_id, Score.scored_at.desc(), Score.id.desc())
                .ext(distinct_on(Score.customer_id)).subquery())
    last = (select(Score.customer_id, func.max(Score.scored_at).label("at")).where(*scored)
            .group_by(Score.customer_id).subquery())
    return (select(Score.customer_id, func.max(Score.tier).label("tier"))
            .join(last, and_(Score.customer_id == last.c.customer_id,
                             Score.scored_at == last.c.at))
            .where(*scored).group_by(Score.customer_id).subquery())


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
    query = (select(tier, func.count(), func.sum(due), func.sum(overdue))
             .join(Customer, Customer.customer_id == Review.customer_id)
             .where(Review.status.in_(OPEN_STATUSES), real_customer())
             .group_by(tier))
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
    query = (select(tier, func.count(), func.sum(on_time), func.sum(days))
             .join(Customer, Customer.customer_id == Review.customer_id)
             .where(Review.status == "completed",
                    Review.completed_at >= literal(start, UtcDateTime()),
                    Review.completed_at < literal(end, UtcDateTime()), real_customer())
             .group_by(tier))
    return list(session.execute(query))
