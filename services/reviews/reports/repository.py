"""The report SQL: set-based aggregates over the whole portfolio (target: under 2 s each
for 100,000 customers on PostgreSQL, bench/reviews.py), drill customers left out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session, aliased

from services.reviews.portfolio import newest_overrides, real_customer
from shared.models import Customer
from shared.models.base import UtcDateTime
from shared.models.reviews import OPEN_STATUSES, Review
from shared.models.scoring import CustomerRisk, Score, TierOverride


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


def _tiers_as_of(bound: dt.datetime) -> Any:
    """Subquery: each customer's model tier from its last default score before ``bound``."""
    ranked = (select(Score.customer_id, Score.tier,
                     func.row_number().over(partition_by=Score.customer_id,
                                            order_by=(Score.scored_at.desc(), Score.id.desc()))
                     .label("rn"))
              .where(Score.target == "default", Score.shadow.is_(False),
                     Score.scored_at < literal(bound, UtcDateTime()))
              .subquery())
    return select(ranked.c.customer_id, ranked.c.tier).where(ranked.c.rn == 1).subquery()


def migration_counts(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """(tier at start, tier at end, customers) for customers scored by ``end``."""
    before, after = _tiers_as_of(start), _tiers_as_of(end)
    from_tier = func.coalesce(before.c.tier, "unscored")
    query = (select(from_tier, after.c.tier, func.count())
             .select_from(after)
             .join(Customer, Customer.customer_id == after.c.customer_id)
             .outerjoin(before, before.c.customer_id == after.c.customer_id)
             .where(real_customer())
             .group_by(from_tier, after.c.tier))
    return list(session.execute(query))


def aging_buckets(session: Session) -> list[Any]:
    """(bucket, currency, customers, overdue amount), the customer's whole overdue amount in
    the bucket of its oldest open invoice's days past due."""
    dpd = CustomerRisk.features["days_past_due"].as_float()
    bucket = case((dpd <= 30, "1-30"), (dpd <= 60, "31-60"), (dpd <= 90, "61-90"),
                  else_="90+")
    currency = func.coalesce(CustomerRisk.credit_currency, "unknown")
    query = (select(bucket, currency, func.count(), func.sum(CustomerRisk.overdue_amount))
             .join(Customer, Customer.customer_id == CustomerRisk.customer_id)
             .where(CustomerRisk.overdue_amount > 0, real_customer())
             .group_by(bucket, currency))
    return list(session.execute(query))


def _exposures() -> Any:
    currency = func.coalesce(CustomerRisk.credit_currency, "unknown")
    return (select(CustomerRisk.customer_id, currency.label("currency"),
                   CustomerRisk.outstanding_balance.label("exposure"),
                   func.row_number().over(partition_by=currency,
                                          order_by=(CustomerRisk.outstanding_balance.desc(),
                                                    CustomerRisk.customer_id))
                   .label("rank"),
                   func.count().over(partition_by=currency).label("n"))
            .join(Customer, Customer.customer_id == CustomerRisk.customer_id)
            .where(CustomerRisk.outstanding_balance > 0, real_customer())
            .subquery())


def concentration_totals(session: Session) -> list[Any]:
    """Per currency: customers with exposure, total, top 10, the top 1 % (at least one)."""
    ranked = _exposures()
    top1pct = cast((ranked.c.n + 99) / 100, Integer)
    query = (select(ranked.c.currency, func.count(), func.sum(ranked.c.exposure),
                    func.sum(case((ranked.c.rank <= 10, ranked.c.exposure), else_=0)),
                    func.max(top1pct),
                    func.sum(case((ranked.c.rank <= top1pct, ranked.c.exposure), else_=0)))
             .group_by(ranked.c.currency))
    return list(session.execute(query))


def largest_exposures(session: Session, *, top: int) -> list[Any]:
    ranked = _exposures()
    query = (select(ranked.c.rank, ranked.c.customer_id, Customer.name, Customer.industry,
                    Customer.country, CustomerRisk.tier, ranked.c.currency,
                    ranked.c.exposure)
             .join(Customer, Customer.customer_id == ranked.c.customer_id)
             .join(CustomerRisk, CustomerRisk.customer_id == ranked.c.customer_id)
             .where(ranked.c.rank <= top)
             .order_by(ranked.c.currency, ranked.c.rank))
    return list(session.execute(query))


def industry_exposure(session: Session) -> list[Any]:
    currency = func.coalesce(CustomerRisk.credit_currency, "unknown")
    industry = func.coalesce(Customer.industry, "unknown")
    query = (select(currency, industry, func.sum(CustomerRisk.outstanding_balance))
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
    """(tier, opened_at, completed_at, deadline_on) of reviews completed in [start, end)."""
    query = (select(func.coalesce(Review.tier, "unscored"), Review.opened_at,
                    Review.completed_at, Review.deadline_on)
             .join(Customer, Customer.customer_id == Review.customer_id)
             .where(and_(Review.status == "completed",
                         Review.completed_at >= literal(start, UtcDateTime()),
                         Review.completed_at < literal(end, UtcDateTime())),
                    real_customer()))
    return list(session.execute(query))
