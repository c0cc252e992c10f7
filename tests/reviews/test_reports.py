"""Portfolio reports: the figures a credit committee reads, as JSON and as CSV with formula
cells made inert."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from services.reviews.worker import due_review_pass
from shared.db import Database
from shared.models import utcnow
from shared.models.reviews import Review
from shared.models.scoring import Score, TierOverride
from tests.reviews.conftest import READ, WRITE
from tests.reviews.factories import customer, risk


def _csv_headers() -> dict[str, str]:
    # Signed when sent: the caller identity expires after five minutes of a long run.
    return {**READ, "accept": "text/csv"}


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _csv(client: TestClient, path: str) -> list[dict[str, str]]:
    response = client.get(path, headers=_csv_headers())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _book(db: Database) -> None:
    customer(db, "a", industry="retail", country="DE")
    risk(db, "a", "low", outstanding="1000.00")
    customer(db, "b", industry="retail", country="FR")
    risk(db, "b", "high", outstanding="9000.00", overdue="4000.00",
         features={"days_past_due": 75})
    customer(db, "c", industry="=HYPERLINK(\"http://x\")", country="DE")
    risk(db, "c", "medium", outstanding="500.00", overdue="100.00",
         features={"days_past_due": 10}, credit_currency="USD")
    customer(db, "d", industry=None, country=None)  # unscored


def test_the_portfolio_report_counts_customers_and_exposure_by_tier_industry_country(
        client: TestClient, db: Database) -> None:
    _book(db)
    with db.transaction() as session:  # an analyst's override moves "a" to medium
        session.add(TierOverride(customer_id="a", tier="medium", reason="watch",
                                 expires_at=utcnow() + dt.timedelta(days=9),
                                 created_by="tests"))
    rows = _get(client, "/v1/reports/portfolio")["rows"]
    by = {(r["dimension"], r["value"], r["currency"]): (r["customers"], float(r["exposure"]))
          for r in rows}
    assert by[("tier", "medium", "EUR")] == (1, 1000)
    assert by[("tier", "medium", "USD")] == (1, 500)
    assert by[("tier", "high", "EUR")] == (1, 9000)
    assert by[("tier", "unscored", "EUR")] == (1, 0)
    assert by[("industry", "retail", "EUR")] == (2, 10000)
    assert by[("country", "DE", "EUR")] == (1, 1000)
    assert by[("country", "unknown", "EUR")] == (1, 0)


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
        client: TestClient, db: Database) -> None:
    _book(db)
    rows = _csv(client, "/v1/reports/portfolio")
    industries = {r["value"] for r in rows if r["dimension"] == "industry"}
    assert "'=HYPERLINK(\"http://x\")" in industries
    assert not any(v.startswith("=") for r in rows for v in r.values())
    assert list(rows[0]) == ["dimension", "value", "currency", "customers", "exposure"]


def test_aging_puts_each_overdue_balance_in_its_bucket(client: TestClient,
                                                       db: Database) -> None:
    _book(db)
    rows = _get(client, "/v1/reports/aging")["rows"]
    assert [(r["bucket"], r["currency"], r["customers"], float(r["overdue_amount"]))
            for r in rows] == [("61-90", "EUR", 1, 4000.0), ("1-30", "USD", 1, 100.0)]
    assert [r["bucket"] for r in _csv(client, "/v1/reports/aging")] == ["61-90", "1-30"]


def test_concentration_gives_the_share_of_the_largest_exposures(client: TestClient,
                                                                db: Database) -> None:
    for i in range(30):
        customer(db, f"c-{i:02d}", industry="steel" if i < 3 else "retail")
        risk(db, f"c-{i:02d}", "low", outstanding=f"{(i + 1) * 100}.00")
    body = _get(client, "/v1/reports/concentration", top=3)
    (eur,) = body["summary"]
    total = sum((i + 1) * 100 for i in range(30))
    assert float(eur["total_exposure"]) == total
    assert eur["top10_share"] == pytest.approx(sum((i + 1) * 100 for i in range(20, 30))
                                               / total, abs=1e-6)
    assert (eur["top1pct_customers"], float(eur["top1pct_exposure"])) == (1, 3000)
    assert eur["largest_industry"] == "retail"
    assert [r["customer_id"] for r in body["rows"]] == ["c-29", "c-28", "c-27"]
    assert body["rows"][0]["share_of_currency_total"] == pytest.approx(3000 / total,
                                                                      abs=1e-6)


def _score(customer_id: str, tier: str, at: dt.datetime) -> dict[str, Any]:
    return {"customer_id": customer_id, "target": "default", "scored_at": at, "pd": 0.1,
            "points": 600, "tier": tier, "model_id": None, "model_version": "m",
            "feature_set": "core", "feature_set_version": 1, "reasons": [],
            "trigger": "tests", "shadow": False}


def test_migration_is_the_tier_transition_matrix_between_two_dates(
        client: TestClient, db: Database) -> None:
    day = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    moves = {"s1": ["low", "low"], "s2": ["low", "medium"], "s3": ["low", "high"],
             "s4": ["medium", "medium"], "s5": [None, "high"]}
    for customer_id, (before, after) in moves.items():
        customer(db, customer_id)
        rows = [_score(customer_id, after, day + dt.timedelta(days=40))]
        if before:
            rows.append(_score(customer_id, before, day - dt.timedelta(days=5)))
        with db.transaction() as session:
            session.execute(insert(Score), rows)
    body = _get(client, "/v1/reports/migration", from_date="2026-06-01",
                to_date="2026-08-01")
    cells = {(r["from_tier"], r["to_tier"]): (r["customers"], r["rate"])
             for r in body["rows"]}
    assert cells[("low", "low")] == (1, pytest.approx(1 / 3, abs=1e-6))
    assert cells[("low", "high")][0] == 1
    assert cells[("medium", "medium")] == (1, 1.0)
    assert cells[("unscored", "high")] == (1, 1.0)
    early = _get(client, "/v1/reports/migration", from_date="2026-05-01",
                 to_date="2026-06-01")
    assert {(r["from_tier"], r["to_tier"]) for r in early["rows"]} == {
        ("unscored", "low"), ("unscored", "medium")}
    risk(db, "s2", "high")  # up to today, the tier at the end is the stored current one
    now = _get(client, "/v1/reports/migration", from_date="2026-06-01")
    assert [(r["from_tier"], r["to_tier"], r["customers"]) for r in now["rows"]] == [
        ("low", "high", 1)]


def test_the_tier_trend_counts_each_week_end_as_the_migration_report_does(
        client: TestClient, db: Database) -> None:
    day = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    for customer_id in ("t1", "t2", "t3"):
        customer(db, customer_id)
    customer(db, "drill-1", is_drill=True)
    rows = [_score("t1", "low", day - dt.timedelta(days=10)),
            _score("t1", "high", day + dt.timedelta(days=8)),
            {**_score("t1", "medium", day - dt.timedelta(days=5)), "shadow": True},
            _score("t2", "medium", day + dt.timedelta(days=1)),
            _score("drill-1", "high", day - dt.timedelta(days=30))]
    with db.transaction() as session:
        session.execute(insert(Score), rows)
        # two scores at the same time: the later row (higher id) is the one in force
        session.execute(insert(Score), [_score("t3", "low", day - dt.timedelta(days=3))])
        session.execute(insert(Score), [_score("t3", "high", day - dt.timedelta(days=3))])
    body = _get(client, "/v1/reports/tier-trend", weeks=3, to_date="2026-06-15")
    counts = {(r["date"], r["tier"]): r["customers"] for r in body["rows"]}
    assert counts == {("2026-06-01", "low"): 1, ("2026-06-01", "high"): 1,
                      ("2026-06-08", "low"): 1, ("2026-06-08", "medium"): 1,
                      ("2026-06-08", "high"): 1,
                      ("2026-06-15", "medium"): 1, ("2026-06-15", "high"): 2}
    for end in ("2026-06-01", "2026-06-08", "2026-06-15"):  # the migration report's to side
        migration = _get(client, "/v1/reports/migration", from_date="2026-05-01", to_date=end)
        to_side: dict[str, int] = {}
        for row in migration["rows"]:
            to_side[row["to_tier"]] = to_side.get(row["to_tier"], 0) + row["customers"]
        assert to_side == {tier: n for (date, tier), n in counts.items() if date == end}
    assert _csv(client, "/v1/reports/tier-trend?weeks=3&to_date=2026-06-15")[0] == {
        "date": "2026-06-01", "tier": "low", "customers": "1"}
    risk(db, "t2", "high")  # up to today, the tier is the stored current one
    today = _get(client, "/v1/reports/tier-trend", weeks=1)["rows"]
    assert [(r["date"], r["tier"], r["customers"]) for r in today] == [
        (utcnow().date().isoformat(), "high", 1)]


def test_the_reviews_report_counts_due_overdue_and_on_time_by_tier(
        client: TestClient, db: Database) -> None:
    customer(db, "late", days_ago=80)
    risk(db, "late", "high")
    customer(db, "done", days_ago=10)
    risk(db, "done", "high")
    due_review_pass(db)  # "late": due 50 days ago, deadline passed
    opened = client.post("/v1/reviews", json={"customer_id": "done", "reason": "check"},
                         headers=WRITE).json()
    client.post(f"/v1/reviews/{opened['id']}/complete",
                json={"decision": "confirm", "reason": "fine"}, headers=WRITE)
    (high,) = _get(client, "/v1/reports/reviews")["rows"]
    assert (high["tier"], high["open"], high["due"], high["overdue"]) == ("high", 1, 1, 1)
    assert (high["completed"], high["completed_on_time"]) == (1, 1)
    assert high["average_days_to_complete"] == pytest.approx(0, abs=0.01)
    assert _csv(client, "/v1/reports/reviews")[0]["tier"] == "high"


def test_an_empty_portfolio_gives_empty_reports_and_csv_headers(client: TestClient) -> None:
    for name in ("portfolio", "migration", "tier-trend", "aging", "concentration", "reviews"):
        assert _get(client, f"/v1/reports/{name}")["rows"] == []
        response = client.get(f"/v1/reports/{name}", headers=_csv_headers())
        assert response.status_code == 200 and response.text.count("\n") == 1


def test_report_parameters_are_validated_and_scopes_enforced(client: TestClient) -> None:
    for path in ("/v1/reports/migration?from_date=2026-09-01&to_date=2026-08-01",
                 "/v1/reports/migration?from_date=not-a-date",
                 "/v1/reports/reviews?to_date=99999-01-01",
                 "/v1/reports/concentration?top=0", "/v1/reports/concentration?top=10000000",
                 "/v1/reports/tier-trend?weeks=0", "/v1/reports/tier-trend?weeks=54",
                 "/v1/reports/tier-trend?to_date=2026-02-30",
                 "/v1/reports/tier-trend?weeks=53&to_date=0001-01-05",
                 "/v1/reports/migration?to_date=9999-12-31",
                 "/v1/reports/reviews?to_date=9999-12-31"):
        assert client.get(path, headers=READ).status_code == 422, path
    assert _get(client, "/v1/reports/migration", to_date="0001-01-02")["from_date"] \
        == "0001-01-01"  # the default 90 days before, as far back as dates go
    early = client.get("/v1/reports/tier-trend?weeks=2&to_date=0001-01-07", headers=READ)
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "to_date"
    assert client.get("/v1/reports/portfolio").status_code == 401
    assert client.get("/v1/reports/portfolio",
                      headers=dict(WRITE.items()) | {"x-riskwatch-signature": "0"}
                      ).status_code == 401


def test_drill_customers_stay_out_of_every_portfolio_figure(
        client: TestClient, db: Database) -> None:
    _book(db)
    customer(db, "drill-1", industry="retail", country="DE", is_drill=True)
    risk(db, "drill-1", "high", outstanding="777000.00", overdue="5000.00",
         features={"days_past_due": 75})
    portfolio = _get(client, "/v1/reports/portfolio")
    by = {(r["dimension"], r["value"], r["currency"]): (r["customers"], float(r["exposure"]))
          for r in portfolio["rows"]}
    assert by[("tier", "high", "EUR")] == (1, 9000)
    assert by[("industry", "retail", "EUR")] == (2, 10000)
    concentration = _get(client, "/v1/reports/concentration", top=10)
    assert "drill-1" not in {r["customer_id"] for r in concentration["rows"]}
    aging = _get(client, "/v1/reports/aging")
    assert aging["drill_customers_excluded"] is True
    assert "drill-1" not in str(aging["rows"])


def test_reviews_of_unscored_customers_are_reported_as_unscored(
        client: TestClient, db: Database) -> None:
    customer(db, "u", days_ago=400)
    due_review_pass(db)
    with db.sessions() as session:
        assert session.query(Review).one().tier is None
    (row,) = _get(client, "/v1/reports/reviews")["rows"]
    assert row["tier"] == "unscored"
