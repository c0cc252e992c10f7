"""Portfolio reports as JSON; each report's ``rows`` is also its CSV (``Accept: text/csv``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field


class Report(BaseModel):
    report: str
    generated_at: dt.datetime
    drill_customers_excluded: bool = Field(
        description="true once customers carry a drill flag; until then there are none to "
                    "exclude")


class PortfolioRow(BaseModel):
    dimension: str = Field(description="tier | industry | country")
    value: str = Field(description="the tier (in force), industry or country; "
                                   "`unscored` / `unknown` when missing")
    currency: str = Field(description="the credit line's currency (`unknown` if none)")
    customers: int
    exposure: Decimal = Field(description="outstanding balance")


class PortfolioReport(Report):
    rows: list[PortfolioRow]


class MigrationRow(BaseModel):
    from_tier: str
    to_tier: str
    customers: int
    rate: float = Field(description="share of the customers that were in `from_tier`")


class MigrationReport(Report):
    from_date: dt.date
    to_date: dt.date
    rows: list[MigrationRow]


class TierTrendRow(BaseModel):
    date: dt.date = Field(description="the day whose end the counts are taken at")
    tier: str = Field(description="the model tier (overrides left out, as in migration)")
    customers: int


class TierTrendReport(Report):
    to_date: dt.date
    weeks: int
    rows: list[TierTrendRow]


class AgingRow(BaseModel):
    bucket: str = Field(description="days past due: 1-30, 31-60, 61-90, 90+")
    currency: str
    customers: int
    overdue_amount: Decimal


class AgingReport(Report):
    rows: list[AgingRow]


class ConcentrationSummary(BaseModel):
    currency: str
    customers_with_exposure: int
    total_exposure: Decimal
    top10_exposure: Decimal
    top10_share: float
    top1pct_customers: int
    top1pct_exposure: Decimal
    top1pct_share: float
    largest_industry: str | None
    largest_industry_share: float | None


class ExposureRow(BaseModel):
    rank: int
    customer_id: str
    name: str | None
    industry: str | None
    country: str | None
    tier: str | None
    currency: str
    exposure: Decimal
    share_of_currency_total: float


class ConcentrationReport(Report):
    summary: list[ConcentrationSummary]
    rows: list[ExposureRow] = Field(description="the largest exposures")


class ReviewsRow(BaseModel):
    tier: str
    open: int
    due: int = Field(description="open and due by today")
    overdue: int = Field(description="open past the deadline")
    completed: int = Field(description="completed between from_date and to_date")
    completed_on_time: int
    average_days_to_complete: float | None


class ReviewsReport(Report):
    from_date: dt.date
    to_date: dt.date
    rows: list[ReviewsRow]
