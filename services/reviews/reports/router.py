"""/v1/reports/…: portfolio, migration, aging, concentration and reviews reports, as JSON or,
with ``Accept: text/csv``, as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from services.reviews.reports import service
from services.reviews.reports.csvout import csv_response, wants_csv
from services.reviews.reports.schemas import (
    AgingReport,
    AgingRow,
    ConcentrationReport,
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
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database

# Each report reads in a read-only transaction: the settings repository.prepare makes with
# SET LOCAL hold for its statements (autocommit would drop them), and on SQLite it takes no
# write lock.
router = APIRouter(prefix="/v1/reports", tags=["reports"])
CSV_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "The report (JSON; its rows as CSV with `Accept: text/csv`)"}}
DRILLS = " Drill customers are excluded."
FromDate = Query(None, alias="from_date", description="default: 90 days before to_date")
ToDate = Query(None, alias="to_date", description="default: today")


def _secured(*errors: int) -> dict[str, Any]:
    return secured("reviews:read", extra_errors=[422, *errors], responses=CSV_DOC)


@router.get("/portfolio", operation_id="reports-portfolio",
            summary="Customers and exposure by tier, industry and country",
            description="Customer counts and outstanding balance per currency, grouped by "
                        "the tier in force, by industry and by country." + DRILLS,
            response_model=PortfolioReport, **_secured())
def portfolio(request: Request, db: Database = DatabaseDep) -> PortfolioReport | Response:
    with db.read_transaction() as session:
        report = service.portfolio(session)
    return csv_response("portfolio", PortfolioRow, report.rows) if wants_csv(request) \
        else report


@router.get("/migration", operation_id="reports-migration",
            summary="Tier transition matrix between two dates",
            description="Each customer's model tier at the end of `from_date` against its "
                        "tier at the end of `to_date` (from the score history): counts and "
                        "the rate within each starting tier (`unscored`: no score yet at "
                        "`from_date`)." + DRILLS,
            response_model=MigrationReport, **_secured())
def migration(request: Request, from_date: dt.date | None = FromDate,
              to_date: dt.date | None = ToDate,
              db: Database = DatabaseDep) -> MigrationReport | Response:
    with db.read_transaction() as session:
        report = service.migration(session, start=from_date, end=to_date)
    return csv_response("migration", MigrationRow, report.rows) if wants_csv(request) \
        else report


@router.get("/tier-trend", operation_id="reports-tier-trend",
            summary="Customers per model tier, week by week",
            description="Customers per model tier at the end of `to_date` and at the end of "
                        "each of the `weeks` - 1 weeks before it, from the score history (the "
                        "`to` side of the migration report for several dates in one read; "
                        "today's from the stored current tier). Customers not scored by a "
                        "date are not counted for it." + DRILLS,
            response_model=TierTrendReport, **_secured())
def tier_trend(request: Request, weeks: int = Query(6, ge=1, le=53),
               to_date: dt.date | None = ToDate,
               db: Database = DatabaseDep) -> TierTrendReport | Response:
    with db.read_transaction() as session:
        report = service.tier_trend(session, weeks=weeks, end=to_date)
    return csv_response("tier-trend", TierTrendRow, report.rows) if wants_csv(request) \
        else report


@router.get("/aging", operation_id="reports-aging", summary="Overdue balances by age",
            description="Overdue amounts per currency in buckets of 1-30, 31-60, 61-90 and "
                        "90+ days past due. A customer's overdue amount falls in the bucket "
                        "of its oldest open invoice (the stored current risk)." + DRILLS,
            response_model=AgingReport, **_secured())
def aging(request: Request, db: Database = DatabaseDep) -> AgingReport | Response:
    with db.read_transaction() as session:
        report = service.aging(session)
    return csv_response("aging", AgingRow, report.rows) if wants_csv(request) else report


@router.get("/concentration", operation_id="reports-concentration",
            summary="Largest exposures and their share of the portfolio",
            description="Per currency: total exposure, the share of the 10 largest and of "
                        "the largest 1 % of customers, and the largest industry's share; "
                        "`rows` (the CSV) lists the `top` largest exposures per "
                        "currency." + DRILLS,
            response_model=ConcentrationReport, **_secured())
def concentration(request: Request, top: int = Query(10, ge=1, le=1000),
                  db: Database = DatabaseDep) -> ConcentrationReport | Response:
    with db.read_transaction() as session:
        report = service.concentration(session, top=top)
    return csv_response("concentration", ExposureRow, report.rows) if wants_csv(request) \
        else report


@router.get("/reviews", operation_id="reports-reviews",
            summary="Review desk: due, overdue, completed on time, time to complete",
            description="By the tier a review was opened at: open, due and overdue reviews "
                        "now; reviews completed between `from_date` and `to_date`, how many "
                        "by their deadline, and the average days from opened to "
                        "completed." + DRILLS,
            response_model=ReviewsReport, **_secured())
def reviews(request: Request, from_date: dt.date | None = FromDate,
            to_date: dt.date | None = ToDate,
            db: Database = DatabaseDep) -> ReviewsReport | Response:
    with db.read_transaction() as session:
        report = service.reviews(session, start=from_date, end=to_date)
    return csv_response("reviews", ReviewsRow, report.rows) if wants_csv(request) else report
