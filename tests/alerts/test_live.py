"""End to end through the real gateway, ingest, scoring and the alerts worker: events posted
as a CRM would end as alerts visible through the API."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx

from shared.models import utcnow
from tests.stack import Stack


def _event(customer_id: str, event_type: str, at: dt.datetime, n: int,
           **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"live-{customer_id}-{n}", "source": "crm-live",
            "type": event_type, "subject": customer_id, "time": at.isoformat(), "data": data}


def _wait_for_alerts(client: httpx.Client, customer_id: str, rule_names: set[str],
                     timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get("/v1/alerts", params={"customer_id": customer_id})
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        if rule_names <= {a["rule_name"] for a in items} or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_events_through_the_gateway_end_as_alerts_in_the_api(live: Stack) -> None:
    now = utcnow()
    events = [
        _event("live-1", "customer.defaulted", now, 1, reason="insolvency"),
        _event("live-2", "invoice.issued", now - dt.timedelta(days=130), 1, invoice_id="i-1",
               amount="8000.00", currency="EUR",
               due_date=(now - dt.timedelta(days=100)).date().isoformat()),
        _event("live-2", "credit_rating.updated", now - dt.timedelta(days=30), 2, agency="a",
               rating="CCC", score=28),
    ]
    with live.client() as client:
        posted = client.post("/v1/events/batch", json=events)
        assert posted.status_code in (200, 202, 207), posted.text
        defaulted = _wait_for_alerts(client, "live-1", {"Customer defaulted"})
        assert [a["rule_name"] for a in defaulted] == ["Customer defaulted"]
        assert defaulted[0]["severity"] == "critical" and defaulted[0]["status"] == "open"
        # Through scoring: the overdue invoice's days past due cross the built-in thresholds.
        overdue = _wait_for_alerts(client, "live-2", {"Days past due over 90"})
        by_rule = {a["rule_name"]: a for a in overdue}
        assert "Days past due over 90" in by_rule, [a["title"] for a in overdue]
        assert by_rule["Days past due over 90"]["values"]["days_past_due"] > 90
        assert by_rule["Days past due over 90"]["reasons"]  # why, from the stored risk
        alert_id = defaulted[0]["id"]
        acked = client.post(f"/v1/alerts/{alert_id}/acknowledge")
        assert acked.status_code == 200 and acked.json()["acknowledged_by"].startswith(
            "bootstrap")
        counts = client.get("/v1/alerts/counts").json()
        assert counts["by_status"]["acknowledged"] == 1
