"""Ingest behind the real gateway, over HTTP: keys and scopes at the door, webhooks without
a key (the adapter authenticates), uploads streamed through the proxy."""

from __future__ import annotations

import json
import time

import httpx

from services.ingest.webhooks.signatures import sign
from shared.auth import create_key
from shared.db import Database
from tests.ingest.conftest import WEBHOOK_SECRET
from tests.ingest.factories import cloudevent, invoice
from tests.stack import Stack


def test_events_and_background_check_through_the_gateway(live: Stack, db: Database) -> None:
    with live.client() as client:
        event = invoice("INV-9", "700.00", "2020-01-01", subject="live-1")
        accepted = client.post("/v1/events", json=event,
                               headers={"content-type": "application/cloudevents+json"})
        assert accepted.status_code == 202, accepted.text
        duplicate = client.post("/v1/events", json=event)
        assert duplicate.status_code == 200 and duplicate.json()["status"] == "duplicate"
        batch = client.post("/v1/events/batch", json=[cloudevent(subject="live-1"),
                                                      {"id": "broken"}])
        assert batch.status_code == 207
        check = client.get("/v1/customers/live-1").json()
        assert check["history"]["overdue_amount"] == {"EUR": "700.00"}
        assert check["customer"]["incomplete"] is True
    with db.transaction() as session:
        _, reader = create_key(session, name="reader", scopes=["risk:read"])
    assert httpx.post(f"{live.gateway}/v1/events", json=event).status_code == 401
    forbidden = httpx.post(f"{live.gateway}/v1/events", json=event, headers=live.headers(reader))
    assert forbidden.status_code == 403


def test_signed_webhook_needs_no_api_key(live: Stack) -> None:
    body = json.dumps(cloudevent(subject="hooked")).encode()
    stamp = int(time.time())
    headers = {"webhook-id": "live-msg-1", "webhook-timestamp": str(stamp),
               "webhook-signature": sign(WEBHOOK_SECRET, msg_id="live-msg-1", timestamp=stamp,
                                         body=body),
               "content-type": "application/json"}
    url = f"{live.gateway}/v1/webhooks/generic/erp"
    refused = httpx.post(url, content=body.replace(b"hooked", b"forged"), headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "webhook-unauthorized"  # the adapter's, not the gateway's
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    with live.client() as client:
        assert client.get("/v1/customers/hooked").status_code == 200
        assert client.get("/v1/customers/forged").status_code == 404


def test_csv_import_streams_through_the_gateway(live: Stack) -> None:
    rows = "".join(f"e{i},bulk,order.placed,c{i % 7},{i}.00,EUR\n" for i in range(300))
    csv_file = ("id,source,type,subject,data.amount,data.currency\n" + rows).encode()
    with live.client() as client:
        response = client.post("/v1/imports/events",
                               files={"file": ("events.csv", csv_file, "text/csv")})
        assert response.status_code == 200, response.text
        assert (response.json()["accepted"], response.json()["rejected"]) == (300, 0)
