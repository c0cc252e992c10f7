"""Notifications reach real receivers: signed webhooks checked by the standardwebhooks
library, e-mail through a real SMTP server, retries with backoff, failure, redelivery,
filters and drills; fan-out never waits for a receiver."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.alerts.app import create_app
from services.alerts.receivers.loops import notification_loops
from services.alerts.receivers.settings import ReceiverSettings, get_receiver_settings
from shared.db import Database
from shared.models import WorkItem
from shared.models.notifications import DeliveryAttempt, NotificationDelivery
from shared.topics import ALERTS_DELIVER
from tests.alerts.receivers_support import (
    down_url,
    drain,
    fast_settings,
    notify,
    silent_server,
    smtp_server,
    snapshot,
    webhook_server,
    worker,
)
from tests.conftest import auth_headers


def writer() -> dict[str, str]:
    """Identity headers are signed with a timestamp and expire: made per test, not at import."""
    return auth_headers("alerts:read", "alerts:write", key_id="ops-key", name="ops")


@pytest.fixture
def settings() -> ReceiverSettings:
    return fast_settings()


@pytest.fixture
def client(db: Database, database_url: str, settings: ReceiverSettings
           ) -> Iterator[TestClient]:
    app = create_app(database_url)
    app.dependency_overrides[get_receiver_settings] = lambda: settings
    with TestClient(app) as test_client:
        test_client.headers.update(writer())
        yield test_client


def add_webhook(client: TestClient, name: str, url: str, secret: str,
                **more: Any) -> dict[str, Any]:
    response = client.post("/v1/receivers", json={"name": name, "kind": "webhook", "url": url,
                                                  "secret": secret, **more})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(db: Database) -> list[NotificationDelivery]:
    with db.transaction() as session:
        return list(session.scalars(select(NotificationDelivery)
                                    .order_by(NotificationDelivery.id)))


def attempts(db: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with db.transaction() as session:
        return list(session.scalars(select(DeliveryAttempt)
                                    .where(DeliveryAttempt.delivery_id == delivery_id)
                                    .order_by(DeliveryAttempt.number)))


def test_a_webhook_receiver_gets_the_alert_signed_per_standard_webhooks(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        hook.answers.append((200, b"x" * 5000))
        receiver = add_webhook(client, "desk", hook.url, hook.secret)
        payload = snapshot(17)
        notify(db, payload)
        drain(worker(db, settings))
    [got] = hook.received
    assert got.verified, "the standardwebhooks library must accept the signature"
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    assert got.document["type"] == "alert.opened"
    assert got.document["data"] == payload
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.receiver_id, delivery.alert_id, delivery.attempt_count,
            delivery.last_status_code) == ("delivered", receiver["id"], 17, 1, 200)
    assert delivery.message_id == got.headers["webhook-id"]
    [attempt] = attempts(db, delivery.id)
    assert attempt.ok and attempt.status_code == 200 and attempt.retry_at is None
    assert attempt.response == "x" * 2048, "answers are kept truncated to 2 KB"
    listed = client.get("/v1/alerts/17/deliveries").json()["items"]
    assert [(d["status"], d["attempts"][0]["status_code"]) for d in listed] == [
        ("delivered", 200)]


def test_an_email_receiver_gets_the_alert_through_a_real_smtp_server(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with smtp_server() as mailbox:
        created = client.post("/v1/receivers", json={
            "name": "credit-mail", "kind": "email",
            "apprise_url": mailbox.apprise_url("credit@example.com")})
        assert created.status_code == 201, created.text
        notify(db, snapshot(21, notification="resolved", severity="warning"))
        drain(worker(db, settings))
    [mail] = mailbox.messages
    assert mail.rcpt_tos == ["credit@example.com"]
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert message["subject"] == "[WARNING] Resolved: Days past due 75 ≥ 60"
    text = message.get_content()
    assert "Acme (cust-001)" in text and "- 75 days past due" in text
    [delivery] = deliveries(db)
    assert delivery.status == "delivered" and delivery.notification == "resolved"


def test_a_receiver_that_is_down_is_retried_with_backoff_then_failed_and_redelivered(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        receiver = add_webhook(client, "flaky", down_url(), hook.secret)
        notify(db, snapshot(30))
        drain(worker(db, settings))
        [delivery] = deliveries(db)
        assert (delivery.status, delivery.attempt_count) == ("failed", 4)
        tries = attempts(db, delivery.id)
        assert [a.ok for a in tries] == [False] * 4
        assert all("ConnectError" in (a.error or "") for a in tries)
        # Each wait is 50-100 % of base × 2^(n-1): it grows, and the last try sets none.
        waits = [(a.retry_at - a.started_at).total_seconds() for a in tries[:-1]
                 if a.retry_at is not None]
        assert len(waits) == 3 and tries[-1].retry_at is None
        for n, wait in enumerate(waits, start=1):
            ceiling = settings.delivery_backoff_base_seconds * 2 ** (n - 1)
            assert 0.5 * ceiling <= wait <= ceiling + 0.5, (n, wait)
        assert tries[1].started_at - tries[0].started_at >= (
            tries[0].retry_at - tries[0].started_at) * 0.9  # type: ignore[operator]

        # The receiver comes back: point it there and redeliver the failed notification.
        assert client.patch(f"/v1/receivers/{receiver['id']}",
                            json={"url": hook.url}).status_code == 200
        again = client.post(f"/v1/receivers/{receiver['id']}/deliveries/{delivery.id}"
                            "/redeliver")
        assert again.status_code == 202, again.text
        assert again.json()["redelivery_of"] == delivery.id
        assert again.json()["status"] == "pending"
        drain(worker(db, settings))
    [got] = hook.received
    assert got.verified and got.headers["webhook-id"] == delivery.message_id
    page = client.get(f"/v1/receivers/{receiver['id']}/deliveries").json()
    assert [(d["status"], d["attempt_count"]) for d in page["items"]] == [
        ("delivered", 1), ("failed", 4)]
    assert page["items"][1]["attempts"][0]["error"].startswith("ConnectError")


def test_a_receiver_answering_errors_is_retried_until_it_accepts(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        hook.answers.extend([(503, b"busy"), (500, b"oops")])
        add_webhook(client, "busy", hook.url, hook.secret)
        notify(db, snapshot(31))
        drain(worker(db, settings))
    assert len(hook.received) == 3
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    [delivery] = deliveries(db)
    assert [(a.status_code, a.response) for a in attempts(db, delivery.id)] == [
        (503, "busy"), (500, "oops"), (200, "ok")]
    assert delivery.status == "delivered"


def test_fanning_out_never_waits_for_a_receiver_that_hangs(
        client: TestClient, db: Database) -> None:
    settings = fast_settings(delivery_timeout_seconds=1.5)
    with silent_server() as hanging:
        add_webhook(client, "hangs", hanging, "whsec_" + "c2lsZW50LXNlcnZlci1zZWNyZXQtMDEyMzQ1Njc=")
        notify(db, *(snapshot(i, customer_id=f"c{i}") for i in range(40, 50)))
        work = worker(db, settings)
        started = time.monotonic()
        assert work.consumer("notify").run_once() == 10
        assert time.monotonic() - started < 1.0
        with db.transaction() as session:
            queued = session.scalars(select(WorkItem.topic)).all()
        assert queued == [ALERTS_DELIVER] * 10
        started = time.monotonic()
        assert work.consumer("deliver-1").run_once() == 1
        assert time.monotonic() - started >= 1.4, "a try waits out the timeout"
    tried = [d for d in deliveries(db) if d.attempt_count == 1]
    assert len(tried) == 1 and "Timeout" in (tried[0].last_error or "")
    assert tried[0].status == "pending" and tried[0].next_attempt_at is not None


def test_filters_choose_which_receivers_hear_of_an_alert(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    secret = "whsec_" + "ZmlsdGVyLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk="
    url = down_url()
    ids = {name: add_webhook(client, name, url, secret, filters=filters)["id"] for name, filters
           in {"all": {}, "critical": {"severities": ["critical"]},
               "rule-5": {"rule_ids": [5]}, "high-tier": {"tiers": ["high"]},
               "warn-rule-5-low": {"severities": ["warning"], "rule_ids": [5],
                                   "tiers": ["low"]}}.items()}
    disabled = add_webhook(client, "off", url, secret, enabled=False)
    notify(db, snapshot(1, severity="critical", rule_id=3, tier="high"),
           snapshot(2, severity="warning", rule_id=5, tier="low"),
           snapshot(3, severity="info", rule_id=5, tier=None))
    worker(db, settings).consumer("notify").run_once()
    by_alert: dict[int, set[str]] = {}
    names = {v: k for k, v in ids.items()}
    for delivery in deliveries(db):
        assert delivery.receiver_id != disabled["id"]
        by_alert.setdefault(delivery.alert_id or 0, set()).add(names[delivery.receiver_id])
    assert by_alert == {1: {"all", "critical", "high-tier"},
                        2: {"all", "rule-5", "warn-rule-5-low"},
                        3: {"all", "rule-5"}}


def test_a_drill_alert_is_notified_only_to_receivers_that_opted_in(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        add_webhook(client, "real-only", hook.url, hook.secret)
        drills = add_webhook(client, "drills-too", hook.url, hook.secret, include_drills=True)
        notify(db, snapshot(60, drill=True))
        drain(worker(db, settings))
    [delivery] = deliveries(db)
    assert delivery.receiver_id == drills["id"] and delivery.status == "delivered"
    assert [r.document["data"]["alert"]["drill"] for r in hook.received] == [True]


def test_secrets_never_reach_the_logs(client: TestClient, db: Database,
                                      settings: ReceiverSettings,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with webhook_server() as hook, smtp_server() as mailbox:
        add_webhook(client, "hook", down_url(), hook.secret)
        mail_url = mailbox.apprise_url().replace("mailto://", "mailto://mailer:Pa55-w0rd@")
        client.post("/v1/receivers", json={"name": "mail", "kind": "email",
                                           "apprise_url": mail_url})
        notify(db, snapshot(70))
        drain(worker(db, settings))
    assert caplog.records, "the failed deliveries were logged"
    logged = caplog.text
    assert hook.secret.removeprefix("whsec_") not in logged and "Pa55-w0rd" not in logged


def test_deliveries_waiting_for_a_receiver_switched_off_fail_and_can_be_redelivered(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        receiver = add_webhook(client, "paused", hook.url, hook.secret)
        notify(db, snapshot(80))
        work = worker(db, settings)
        work.consumer("notify").run_once()
        client.patch(f"/v1/receivers/{receiver['id']}", json={"enabled": False})
        drain(work)
        [delivery] = deliveries(db)
        assert delivery.status == "failed" and "disabled" in (delivery.last_error or "")
        assert hook.received == []
        client.patch(f"/v1/receivers/{receiver['id']}", json={"enabled": True})
        assert client.post(f"/v1/receivers/{receiver['id']}/deliveries/{delivery.id}"
                           "/redeliver").status_code == 202
        drain(work)
    assert [r.verified for r in hook.received] == [True]


def test_a_malformed_snapshot_is_retried_alone_and_the_others_are_delivered(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    with webhook_server() as hook:
        add_webhook(client, "desk", hook.url, hook.secret)
        broken = snapshot(91)
        del broken["alert"]["severity"]
        notify(db, snapshot(90), broken)
        work = worker(db, settings)
        work.consumer("notify").run_once()
        with db.transaction() as session:
            left = session.scalars(select(WorkItem).where(WorkItem.topic == "alerts.notify")
                                   ).all()
            assert [i.payload["alert"]["id"] for i in left] == [91]
            assert "severity" in (left[0].last_error or "")
        for _ in range(5):
            work.consumer("deliver-1").run_once()
    assert [r.document["data"]["alert"]["id"] for r in hook.received] == [90]


def test_a_delivery_timeout_as_long_as_the_queue_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="RISKWATCH_ALERTS_DELIVERY_TIMEOUT_SECONDS"):
        notification_loops(fast_settings(delivery_timeout_seconds=30))


def test_an_email_server_that_never_answers_fails_the_try_within_the_timeout(
        client: TestClient, db: Database) -> None:
    settings = fast_settings(delivery_timeout_seconds=1.0)
    with silent_server() as hanging:
        port = hanging.rsplit(":", 1)[1].split("/")[0]
        client.post("/v1/receivers", json={
            "name": "mail", "kind": "email",
            "apprise_url": f"mailto://127.0.0.1:{port}/a@example.com?from=rw@example.com"})
        notify(db, snapshot(95))
        work = worker(db, settings)
        work.consumer("notify").run_once()
        started = time.monotonic()
        work.consumer("deliver-1").run_once()
        assert time.monotonic() - started < 3.0
    [delivery] = deliveries(db)
    [attempt] = attempts(db, delivery.id)
    assert not attempt.ok and attempt.error and attempt.retry_at is not None
