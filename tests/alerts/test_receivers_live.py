"""Receivers behind the real gateway: the alerts service process configures a receiver and
sends its test notification to a webhook server in this test process, over real HTTP."""

from __future__ import annotations

from shared.db import Database
from tests.alerts.receivers_support import webhook_server
from tests.stack import Stack


def test_a_receiver_configured_through_the_gateway_gets_a_signed_test_notification(
        stack: Stack, db: Database) -> None:
    stack.ensure_admin_key(db)
    with webhook_server() as hook, stack.client() as client:
        created = client.post("/v1/receivers", json={
            "name": "desk", "kind": "webhook", "url": hook.url, "secret": hook.secret})
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        sent = client.post(f"/v1/receivers/{rid}/test")
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "delivered"
        listed = client.get(f"/v1/receivers/{rid}/deliveries").json()["items"]
        assert [d["id"] for d in listed] == [sent.json()["id"]]
        assert client.get("/v1/alerts/1/deliveries").json() == {"items": [],
                                                                "next_cursor": None}
    [got] = hook.received
    assert got.verified and got.headers["webhook-id"] == sent.json()["message_id"]
