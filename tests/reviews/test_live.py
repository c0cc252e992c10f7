"""End to end through the real gateway, ingest, scoring and both workers: a customer whose
payments go bad is scored into a worse tier, the reviews worker opens a triggered review, a
reviewer completes it, and the risk file shows both."""

from __future__ import annotations

import time

from shared.models import utcnow
from tests.scoring.factories import days, event
from tests.stack import Stack


def test_a_worsening_customer_is_reviewed_and_filed_through_the_gateway(live: Stack) -> None:
    now = utcnow()
    cid = "live-review-1"
    with live.client() as client:
        created = client.post("/v1/customers", json={
            "customer_id": cid, "name": "Slow Payer GmbH", "industry": "retail",
            "country": "DE", "credit_limit": "20000.00", "credit_currency": "EUR"})
        assert created.status_code in (200, 201), created.text
        sent = client.post("/v1/events/batch", json=[
            event(cid, "invoice.issued", now - days(150), invoice_id="i-1", amount="15000.00",
                  currency="EUR", due_date=(now - days(120)).date().isoformat()),
            event(cid, "credit_rating.updated", now - days(5), agency="a", rating="CC",
                  score=12)])
        assert sent.status_code in (200, 202), sent.text
        deadline = time.monotonic() + 60
        items: list[dict[str, object]] = []
        while not items and time.monotonic() < deadline:
            time.sleep(0.3)
            listed = client.get("/v1/reviews", params={"customer_id": cid})
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
        assert items, live.log("reviews-worker")
        (review,) = items
        assert review["kind"] == "triggered" and review["status"] == "open"
        done = client.post(f"/v1/reviews/{review['id']}/complete",
                           json={"decision": "confirm", "reason": "arrears confirmed"})
        assert done.status_code == 200, done.text
        history = client.get(f"/v1/customers/{cid}/profile-history")
        assert history.status_code == 200, history.text
        causes = [s["cause"] for s in history.json()["items"]]
        assert causes[0] == "review" and "tier_change" in causes
        report = client.get("/v1/reports/reviews", headers={"accept": "text/csv"})
        assert report.status_code == 200 and report.text.startswith("tier,open,due")
