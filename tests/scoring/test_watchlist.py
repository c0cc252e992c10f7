"""GET /v1/watchlist: customers whose tier worsened, whose PD or overdue amount rose since a
date, filtered, sorted and paged with a cursor, on both engines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import update

from shared import queue
from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import CustomerRisk, Score
from shared.topics import SCORING_RESCORE
from tests.scoring.conftest import READ, drain
from tests.scoring.factories import add_customer, add_events, days, event


def _history(db: Database, customer_id: str, points: list[tuple[int, float, str]], *,
             industry: str = "retail", owner: str = "ana", overdue: str = "0",
             overdue_then: str | None = None) -> None:
    """Scores ``(days ago, pd, tier)`` oldest first; the last one is the current risk, with
    ``overdue``; the earlier ones carry ``overdue_then`` (None: written before it was kept)."""
    add_customer(db, customer_id, industry=industry, owner=owner)
    now = utcnow()
    with db.transaction() as session:
        for n, (days_ago, pd, tier) in enumerate(points, start=1):
            amount = overdue if n == len(points) else overdue_then
            session.add(Score(customer_id=customer_id, target="default",
                              scored_at=now - dt.timedelta(days=days_ago), pd=pd,
                              points=600, tier=tier, model_version="m1", feature_set="core",
                              feature_set_version=1, reasons=[], trigger="test",
                              overdue_amount=None if amount is None else Decimal(amount)))
        _, pd, tier = points[-1]
        session.add(CustomerRisk(customer_id=customer_id, pd_default=pd, points=600, tier=tier,
                                 model_version="m1", reasons=[], feature_set="core",
                                 feature_set_version=1, features={},
                                 overdue_amount=Decimal(overdue),
                                 outstanding_balance=Decimal("1000"), credit_currency="EUR",
                                 tier_config_version=0, trigger="test",
                                 scored_at=now - dt.timedelta(days=points[-1][0])))


def _rescore(db: Database, customer_id: str) -> None:
    """What ingest does with every stored event, then the scoring worker's run."""
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key=customer_id,
                      payload={"trigger": "event"}, coalesce=True)
    drain(db)


def _seed(db: Database) -> None:
    _history(db, "worse", [(60, 0.03, "medium"), (2, 0.15, "high")], overdue="500",
             overdue_then="200")
    _history(db, "up", [(60, 0.005, "low"), (1, 0.018, "low")], industry="software")
    _history(db, "better", [(60, 0.2, "high"), (1, 0.05, "medium")], overdue="9000",
             overdue_then="9500")
    _history(db, "new", [(3, 0.3, "high")], owner="bo")
    # overdue grew while the PD even eased a little
    _history(db, "late", [(60, 0.021, "medium"), (1, 0.02, "medium")], overdue="4100",
             overdue_then="100")


def test_the_watch_list_finds_who_moved_down_or_whose_pd_rose(db: Database,
                                                              client: TestClient) -> None:
    _seed(db)
    page = client.get("/v1/watchlist", headers=READ).json()
    assert [i["customer_id"] for i in page["items"]] == ["worse", "up", "new", "late",
                                                         "better"]
    worse = page["items"][0]
    assert worse["previous_tier"] == "medium" and worse["tier"] == "high"
    assert worse["tier_worsened"] is True
    assert abs(worse["pd_change"] - 0.12) < 1e-9
    assert worse["pd_history"] == [0.03, 0.15]
    assert worse["previous_overdue_amount"] == "200.00"
    assert worse["overdue_change"] == "300.00"
    new = page["items"][2]
    assert new["previous_tier"] is None and new["pd_change"] == 0
    assert new["previous_overdue_amount"] is None and new["overdue_change"] == "0.00"
    up = page["items"][1]  # its earlier score predates kept overdue amounts
    assert up["previous_overdue_amount"] is None and up["overdue_change"] == "0.00"

    def ids(**params: object) -> list[str]:
        answer = client.get("/v1/watchlist", params=params, headers=READ)
        assert answer.status_code == 200, answer.text
        return [i["customer_id"] for i in answer.json()["items"]]

    assert ids(signal="tier_worsened") == ["worse"]
    assert ids(signal="pd_up") == ["worse", "up"]
    assert ids(signal="overdue_grew") == ["worse", "late"]
    assert ids(signal="overdue_grew", sort="overdue_change") == ["late", "worse"]
    assert ids(sort="overdue_change") == ["late", "worse", "new", "up", "better"]
    assert ids(signal="pd_up", min_pd_change=0.05) == ["worse"]
    assert ids(industry="software") == ["up"]
    assert ids(owner="bo") == ["new"]
    assert ids(tier="high") == ["worse", "new"]
    assert ids(sort="overdue") == ["better", "late", "worse", "new", "up"]
    assert ids(sort="pd") == ["new", "worse", "better", "late", "up"]
    # a window shorter than the history compares with the latest score before it
    assert ids(signal="tier_worsened", since_days=1) == []
    assert ids(signal="overdue_grew", since_days=1) == []


def test_the_watch_list_pages_with_a_cursor_and_refuses_a_foreign_one(
        db: Database, client: TestClient) -> None:
    _seed(db)
    def walk(sort: str) -> list[str]:
        seen, cursor = [], None
        for _ in range(6):
            params = {"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/watchlist", params=params, headers=READ).json()
            seen += [i["customer_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return seen

    assert walk("overdue") == ["better", "late", "worse", "new", "up"]
    # a negative change pages on past the ties at zero
    assert walk("overdue_change") == ["late", "worse", "new", "up", "better"]
    first = client.get("/v1/watchlist", params={"limit": 1}, headers=READ).json()
    mixed = client.get("/v1/watchlist", params={"sort": "pd", "cursor": first["next_cursor"]},
                       headers=READ)
    assert mixed.status_code == 400
    assert client.get("/v1/watchlist", params={"cursor": "nope"}, headers=READ
                      ).status_code == 400
    assert client.get("/v1/watchlist", params={"tier": "huge"}, headers=READ
                      ).status_code == 422
    assert client.get("/v1/watchlist").status_code == 401


def test_the_scoring_worker_keeps_the_overdue_amount_so_growth_shows(
        db: Database, client: TestClient) -> None:
    now = utcnow()
    add_customer(db, "c-1", credit_limit=20000)
    add_events(db, event("c-1", "invoice.issued", now - days(120), invoice_id="i-1",
                         amount="8000.00", currency="EUR",
                         due_date=(now - days(95)).date().isoformat()))
    _rescore(db, "c-1")
    history = client.get("/v1/customers/c-1/scores?target=default", headers=READ).json()
    assert [i["overdue_amount"] for i in history["items"]] == ["8000.00"]
    with db.transaction() as session:  # that score was two months ago
        session.execute(update(Score).values(scored_at=now - days(60)))
    add_events(db, event("c-1", "invoice.issued", now - days(50), invoice_id="i-2",
                         amount="3000.00", currency="EUR",
                         due_date=(now - days(20)).date().isoformat()))
    _rescore(db, "c-1")
    page = client.get("/v1/watchlist", params={"signal": "overdue_grew"}, headers=READ).json()
    assert [(i["customer_id"], i["previous_overdue_amount"], i["overdue_amount"],
             i["overdue_change"]) for i in page["items"]] == [
        ("c-1", "8000.00", "11000.00", "3000.00")]
