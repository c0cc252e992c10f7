"""The risk file: a snapshot at every review and every tier change, newest first, paged."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.reviews.reviews import scheduling
from shared.db import Database
from shared.models.reviews import Review
from tests.reviews.conftest import READ, WRITE
from tests.reviews.factories import customer, notice, risk


def _history(client: TestClient, customer_id: str, **params: object) -> dict[str, object]:
    response = client.get(f"/v1/customers/{customer_id}/profile-history", params=params,
                          headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_risk_file_holds_every_tier_change_and_review_newest_first(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    risk(db, "c-1", "high", overdue="250.00")
    with db.transaction() as session:
        scheduling.on_score_changed(session, [notice("c-1", "medium", "low",
                                                     scored_at="2026-11-01T00:00:00+00:00")])
        scheduling.on_score_changed(session, [notice("c-1", "high", "medium",
                                                     scored_at="2026-11-02T00:00:00+00:00")])
    with db.sessions() as session:
        triggered = session.scalars(select(Review)).one()
    client.post(f"/v1/reviews/{triggered.id}/complete",
                json={"decision": "confirm", "reason": "arrears confirmed"}, headers=WRITE)
    items = _history(client, "c-1")["items"]
    assert isinstance(items, list)
    assert [(i["cause"], i["tier"], i["decision"]) for i in items] == [
        ("review", "high", "confirm"), ("tier_change", "high", None),
        ("tier_change", "medium", None)]
    review = items[0]
    assert review["decided_by"].startswith("tests") and review["review_id"] == triggered.id
    assert review["details"]["reason"] == "arrears confirmed"
    assert review["features"]["days_past_due"] == 12
    assert float(review["overdue_amount"]) == 250
    assert review["reasons"][0]["feature"] == "days_past_due"
    assert items[1]["previous_tier"] == "medium" and items[1]["pd"] == 0.2


def test_the_risk_file_pages_with_a_cursor(client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    tiers = ["low", "medium", "high"]
    with db.transaction() as session:
        scheduling.on_score_changed(session, [
            notice("c-1", tiers[(i + 1) % 3], tiers[i % 3],
                   scored_at=f"2026-11-01T00:00:{i:02d}+00:00") for i in range(7)])
    seen: list[int] = []
    cursor = None
    while True:
        page = _history(client, "c-1", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]  # type: ignore[attr-defined]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7


def test_the_risk_file_of_an_unknown_customer_is_404_and_needs_a_scope(
        client: TestClient, db: Database) -> None:
    assert client.get("/v1/customers/nobody/profile-history",
                      headers=READ).status_code == 404
    assert client.get("/v1/customers/nobody/profile-history").status_code == 401
    customer(db, "c-1")
    for params in ({"cursor": "x"}, {"cursor": "WyJhIl0"}, {"limit": 0}, {"limit": 10**6}):
        status = client.get("/v1/customers/c-1/profile-history", params=params,
                            headers=READ).status_code
        assert 400 <= status < 500, params
