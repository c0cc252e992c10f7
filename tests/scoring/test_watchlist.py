"""GET /v1/watchlist: customers whose tier worsened or whose PD rose since a date, filtered,
sorted and paged with a cursor, on both engines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi.testclient import TestClient

from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import CustomerRisk, Score
from tests.scoring.conftest import READ
from tests.scoring.factories import add_customer


def _history(db: Database, customer_id: str, points: list[tuple[int, float, str]], *,
             industry: str = "retail", owner: str = "ana", overdue: str = "0") -> None:
    """Scores ``(days ago, pd, tier)`` oldest first; the last one is the current risk."""
    add_customer(db, customer_id, industry=industry, owner=owner)
    now = utcnow()
    with db.transaction() as session:
        for days_ago, pd, tier in points:
            session.add(Score(customer_id=customer_id, target="default",
                              scored_at=now - dt.timedelta(days=days_ago), pd=pd,
                              points=600, tier=tier, model_version="m1", feature_set="core",
                              feature_set_version=1, reasons=[], trigger="test"))
        _, pd, tier = points[-1]
        session.add(CustomerRisk(customer_id=customer_id, pd_default=pd, points=600, tier=tier,
                                 model_version="m1", reasons=[], feature_set="core",
                                 feature_set_version=1, features={},
                                 overdue_amount=Decimal(overdue),
                                 outstanding_balance=Decimal("1000"), credit_currency="EUR",
                                 tier_config_version=0, trigger="test",
                                 scored_at=now - dt.timedelta(days=points[-1][0])))


def _seed(db: Database) -> None:
    _history(db, "worse", [(60, 0.03, "medium"), (2, 0.15, "high")], overdue="500")
    _history(db, "up", [(60, 0.005, "low"), (1, 0.018, "low")], industry="software")
    _history(db, "better", [(60, 0.2, "high"), (1, 0.05, "medium")], overdue="9000")
    _history(db, "new", [(3, 0.3, "high")], owner="bo")


def test_the_watch_list_finds_who_moved_down_or_whose_pd_rose(db: Database,
                                                              client: TestClient) -> None:
    _seed(db)
    page = client.get("/v1/watchlist", headers=READ).json()
    assert [i["customer_id"] for i in page["items"]] == ["worse", "up", "new", "better"]
    worse = page["items"][0]
    assert worse["previous_tier"] == "medium" and worse["tier"] == "high"
    assert worse["tier_worsened"] is True
    assert abs(worse["pd_change"] - 0.12) < 1e-9
    assert worse["pd_history"] == [0.03, 0.15]
    new = page["items"][2]
    assert new["previous_tier"] is None and new["pd_change"] == 0

    def ids(**params: object) -> list[str]:
        answer = client.get("/v1/watchlist", params=params, headers=READ)
        assert answer.status_code == 200, answer.text
        return [i["customer_id"] for i in answer.json()["items"]]

    assert ids(signal="tier_worsened") == ["worse"]
    assert ids(signal="pd_up") == ["worse", "up"]
    assert ids(signal="pd_up", min_pd_change=0.05) == ["worse"]
    assert ids(industry="software") == ["up"]
    assert ids(owner="bo") == ["new"]
    assert ids(tier="high") == ["worse", "new"]
    assert ids(sort="overdue") == ["better", "worse", "new", "up"]
    assert ids(sort="pd") == ["new", "worse", "better", "up"]
    # a window shorter than the history compares with the latest score before it
    assert ids(signal="tier_worsened", since_days=1) == []


def test_the_watch_list_pages_with_a_cursor_and_refuses_a_foreign_one(
        db: Database, client: TestClient) -> None:
    _seed(db)
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1, "sort": "overdue", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/watchlist", params=params, headers=READ).json()
        seen += [i["customer_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["better", "worse", "new", "up"]
    first = client.get("/v1/watchlist", params={"limit": 1}, headers=READ).json()
    mixed = client.get("/v1/watchlist", params={"sort": "pd", "cursor": first["next_cursor"]},
                       headers=READ)
    assert mixed.status_code == 400
    assert client.get("/v1/watchlist", params={"cursor": "nope"}, headers=READ
                      ).status_code == 400
    assert client.get("/v1/watchlist", params={"tier": "huge"}, headers=READ
                      ).status_code == 422
    assert client.get("/v1/watchlist").status_code == 401
