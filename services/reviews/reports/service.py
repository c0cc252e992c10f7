"""The reports a credit committee reads: the portfolio by tier, industry and country; tier
migration between two dates; aging of overdue balances; concentration of exposure; and how
the review desk keeps up."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

from sqlalchemy.orm import Session

from services.reviews.portfolio import drill_flag_exists
from services.reviews.reports import repository
from services.reviews.reports.schemas import (
    AgingReport,
    AgingRow,
    ConcentrationReport,
    ConcentrationSummary,
    ExposureRow,
    MigrationReport,
    MigrationRow,
    PortfolioReport,
    PortfolioRow,
    ReviewsReport,
    ReviewsRow,
    TierTrendReport,
    TierTrendRow,
)
from shared.errors import ValidationFailed, field_error
from shared.models import utcnow

TIER_ORDER = {"low": 0, "medium": 1, "high": 2, "unscored": 3}
BUCKETS = ("1-30", "31-60", "61-90", "90+")
CENT = Decimal("0.01")


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _share(part: Decimal, whole: Decimal) -> float:
    return round(float(part / whole), 6) if whole else 0.0


def _base(name: str) -> dict[str, object]:
    return {"report": name, "generated_at": utcnow(),
            "drill_customers_excluded": drill_flag_exists()}


def portfolio(session: Session) -> PortfolioReport:
    repository.prepare(session)
    totals: dict[tuple[str, str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)])
    for tier, industry, country, currency, customers, exposure in \
            repository.portfolio_groups(session, now=utcnow()):
        for dimension, value in (("tier", tier), ("industry", industry),
                                 ("country", country)):
            cell = totals[(dimension, value, currency)]
            cell[0] += customers
            cell[1] += _money(exposure)

    def order(key: tuple[str, str, str]) -> tuple[int, int, str, str]:
        dimension, value, currency = key
        return (("tier", "industry", "country").index(dimension),
                TIER_ORDER.get(value, 9) if dimension == "tier" else 0, value, currency)

    rows = [PortfolioRow(dimension=k[0], value=k[1], currency=k[2], customers=int(v[0]),
                         exposure=_money(v[1])) for k, v in sorted(totals.items(),
                                                                   key=lambda i: order(i[0]))]
    return PortfolioReport(**_base("portfolio"), rows=rows)  # type: ignore[arg-type]


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _window(start: dt.date | None, end: dt.date | None, *,
            default_days: int) -> tuple[dt.date, dt.date]:
    end = end or utcnow().date()
    if end == dt.date.max:  # the report reads up to the start of the next day
        raise ValidationFailed("to_date must be before 9999-12-31.",
                               errors=[field_error("to_date", "must be before 9999-12-31")])
    start = start or max(dt.date.min + dt.timedelta(days=default_days),
                         end) - dt.timedelta(days=default_days)
    if start > end:
        raise ValidationFailed("from_date must not be after to_date.")
    return start, end


def migration(session: Session, *, start: dt.date | None, end: dt.date | None
              ) -> MigrationReport:
    """Each customer's model tier at the end of ``start`` and at the end of ``end``."""
    start, end = _window(start, end, default_days=90)
    repository.prepare(session)
    counts = repository.migration_counts(
        session, start=_day_start(start + dt.timedelta(days=1)),
        end=_day_start(end + dt.timedelta(days=1)), end_is_now=end >= utcnow().date())
    from_totals: dict[str, int] = defaultdict(int)
    for from_tier, _to, customers in counts:
        from_totals[from_tier] += customers
    rows = sorted((MigrationRow(from_tier=f, to_tier=t, customers=int(n),
                                rate=round(n / from_totals[f], 6))
                   for f, t, n in counts),
                  key=lambda r: (TIER_ORDER.get(r.from_tier, 9), TIER_ORDER.get(r.to_tier, 9)))
    return MigrationReport(**_base("migration"), from_date=start,  # type: ignore[arg-type]
                           to_date=end, rows=rows)


def tier_trend(session: Session, *, weeks: int, end: dt.date | None) -> TierTrendReport:
    """Customers per model tier at the end of ``end`` and of each week before it (the
    ``to`` side of the migration report, for several dates in one read); today and later
    from the stored current tier, as the migration report does."""
    today = utcnow().date()
    end = end or today
    if end - dt.date.min < dt.timedelta(weeks=weeks - 1):
        raise ValidationFailed("to_date is too early for that many weeks.",
                               errors=[field_error("to_date", "too early for that many weeks")])
    days = [end - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    repository.prepare(session)
    past = [day for day in days if day < today]
    counts: dict[tuple[dt.date, str], int] = defaultdict(int)
    for tier, first, stop, n in repository.tiers_at(
            session, [_day_start(day + dt.timedelta(days=1)) for day in past]):
        for day in past[first:stop]:
            counts[(day, tier)] += n
    if days[-1] >= today:
        for tier, n in repository.current_tiers(session):
            for day in days[len(past):]:
                counts[(day, tier)] += n
    rows = sorted((TierTrendRow(date=day, tier=tier, customers=n)
                   for (day, tier), n in counts.items()),
                  key=lambda r: (r.date, TIER_ORDER.get(r.tier, 9)))
    return TierTrendReport(**_base("tier-trend"), to_date=end,  # type: ignore[arg-type]
                           weeks=weeks, rows=rows)


def aging(session: Session) -> AgingReport:
    repository.prepare(session)
    rows = sorted((AgingRow(bucket=b, currency=c, customers=int(n), overdue_amount=_money(a))
                   for b, c, n, a in repository.aging_buckets(session)),
                  key=lambda r: (r.currency, BUCKETS.index(r.bucket)))
    return AgingReport(**_base("aging"), rows=rows)  # type: ignore[arg-type]


def concentration(session: Session, *, top: int) -> ConcentrationReport:
    repository.prepare(session)
    industries: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    customers: dict[str, int] = defaultdict(int)
    for currency, industry, n, exposure in repository.industry_exposure(session):
        industries[currency].append((industry, _money(exposure)))
        customers[currency] += n
    summary: list[ConcentrationSummary] = []
    largest_rows: list[tuple[int, str, str, Decimal, Decimal]] = []
    for currency in sorted(industries):
        n = customers[currency]
        total = sum((amount for _, amount in industries[currency]), Decimal(0))
        top1pct_n = max(1, math.ceil(n / 100))
        ranked = repository.largest_exposures(session, currency=currency,
                                              limit=max(top, 10, top1pct_n))
        amounts = [_money(exposure) for _, exposure in ranked]
        top10, top1pct = sum(amounts[:10], Decimal(0)), sum(amounts[:top1pct_n], Decimal(0))
        largest = max(industries.get(currency, []), key=lambda i: i[1], default=None)
        summary.append(ConcentrationSummary(
            currency=currency, customers_with_exposure=int(n), total_exposure=total,
            top10_exposure=top10, top10_share=_share(top10, total),
            top1pct_customers=top1pct_n, top1pct_exposure=top1pct,
            top1pct_share=_share(top1pct, total),
            largest_industry=largest[0] if largest else None,
            largest_industry_share=_share(largest[1], total) if largest else None))
        largest_rows += [(rank, cid, currency, amount, total) for rank, ((cid, _), amount)
                         in enumerate(zip(ranked[:top], amounts, strict=False), start=1)]
    details = repository.exposure_details(session, [row[1] for row in largest_rows])
    rows = [ExposureRow(rank=rank, customer_id=cid, name=details[cid][0],
                        industry=details[cid][1], country=details[cid][2],
                        tier=details[cid][3], currency=currency, exposure=amount,
                        share_of_currency_total=_share(amount, total))
            for rank, cid, currency, amount, total in largest_rows]
    return ConcentrationReport(**_base("concentration"),  # type: ignore[arg-type]
                               summary=summary, rows=rows)


def reviews(session: Session, *, start: dt.date | None, end: dt.date | None) -> ReviewsReport:
    start, end = _window(start, end, default_days=90)
    repository.prepare(session)
    today = utcnow().date()
    by_tier: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tier, n_open, due, overdue in repository.open_review_counts(session, today=today):
        by_tier[tier].update(open=n_open, due=due or 0, overdue=overdue or 0)
    for tier, completed, on_time, days in repository.completed_reviews(
            session, start=_day_start(start), end=_day_start(end + dt.timedelta(days=1))):
        by_tier[tier].update(completed=completed, on_time=on_time or 0,
                             average=round(float(days) / completed, 2) if completed else -1)
    rows = [ReviewsRow(tier=tier, open=int(c["open"]), due=int(c["due"]),
                       overdue=int(c["overdue"]), completed=int(c["completed"]),
                       completed_on_time=int(c["on_time"]),
                       average_days_to_complete=c["average"] if c["completed"] else None)
            for tier, c in sorted(by_tier.items(), key=lambda i: TIER_ORDER.get(i[0], 9))]
    return ReviewsReport(**_base("reviews"), from_date=start,  # type: ignore[arg-type]
                         to_date=end, rows=rows)
