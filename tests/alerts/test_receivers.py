"""/v1/receivers: receivers are created, changed and removed by alerts:write, read by
alerts:read; secrets are stored encrypted, never answered nor audited; a test notification
goes out on request; hostile input is a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.alerts.app import create_app
from services.alerts.receivers.settings import ReceiverSettings, get_receiver_settings
from shared.db import Database
from shared.models import AuditEntry, WorkItem
from tests.alerts.receivers_support import (
    down_url,
    drain,
    fast_settings,
    new_secret,
    notify,
    smtp_server,
    snapshot,
    webhook_server,
    worker,
)
from tests.conftest import auth_headers


def writer() -> dict[str, str]:
    """Identity headers are signed with a timestamp and expire: made per test, not at import."""
    return auth_headers("alerts:read", "alerts:write", key_id="ops-key", name="ops")


def reader() -> dict[str, str]:
    return auth_headers("alerts:read", key_id="viewer-key", name="viewer")


SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


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


def webhook(name: str = "desk", **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "webhook", "url": "https://hooks.example.com/rw",
            "secret": new_secret(), **more}


def test_a_receiver_is_created_listed_changed_and_removed_with_audit(
        client: TestClient, db: Database) -> None:
    body = webhook(filters={"severities": ["critical", "critical"], "tiers": ["high"]})
    created = client.post("/v1/receivers", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["secret_set"] is True and "secret" not in out
    assert out["filters"] == {"severities": ["critical"], "rule_ids": [], "tiers": ["high"]}
    assert out["created_by"] == "ops (ops-key)" and out["include_drills"] is False
    rid = out["id"]
    assert client.post("/v1/receivers", json=webhook()).status_code == 409
    assert [r["name"] for r in client.get("/v1/receivers", headers=reader()).json()] == ["desk"]
    changed = client.patch(f"/v1/receivers/{rid}", json={
        "enabled": False, "filters": {"rule_ids": [4, 9]}, "secret": new_secret()})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["filters"]["rule_ids"] == [4, 9]
    assert client.get(f"/v1/receivers/{rid}", headers=reader()).json()["enabled"] is False
    assert client.delete(f"/v1/receivers/{rid}").status_code == 204
    assert client.get(f"/v1/receivers/{rid}").status_code == 404
    assert client.delete(f"/v1/receivers/{rid}").status_code == 404
    with db.transaction() as session:
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.action, a.actor) for a in audit] == [
            ("receiver.created", "ops (ops-key)"), ("receiver.updated", "ops (ops-key)"),
            ("receiver.deleted", "ops (ops-key)")]
        assert audit[1].details["secret_changed"] is True


def test_reads_need_alerts_read_and_changes_alerts_write(client: TestClient) -> None:
    assert client.post("/v1/receivers", json=webhook(), headers=reader()).status_code == 403
    rid = client.post("/v1/receivers", json=webhook()).json()["id"]
    no_scope = auth_headers("risk:read")
    assert client.get("/v1/receivers", headers=no_scope).status_code == 403
    for method, path in [("PATCH", f"/v1/receivers/{rid}"), ("DELETE", f"/v1/receivers/{rid}"),
                         ("POST", f"/v1/receivers/{rid}/test"),
                         ("POST", f"/v1/receivers/{rid}/deliveries/1/redeliver")]:
        assert client.request(method, path, json={}, headers=reader()).status_code == 403
    client.headers.clear()
    assert client.get("/v1/receivers").status_code == 401
    assert client.get("/v1/alerts/1/deliveries").status_code == 401


def test_secrets_are_stored_encrypted_and_never_answered_nor_audited(
        client: TestClient, db: Database) -> None:
    secret = new_secret()
    mail = "mailtos://alerts:Sup3r-Secret-Pw@smtp.example.com:587?to=credit@example.com"
    answers = [client.post("/v1/receivers", json=webhook("hook", secret=secret)),
               client.post("/v1/receivers", json={"name": "mail", "kind": "email",
                                                  "apprise_url": mail}),
               client.post("/v1/receivers", json={"name": "chat", "kind": "chat",
                                                  "apprise_url": SLACK_URL})]
    assert [a.status_code for a in answers] == [201, 201, 201]
    answers += [client.get("/v1/receivers"),
                client.patch(f"/v1/receivers/{answers[1].json()['id']}",
                             json={"apprise_url": mail.replace("Sup3r", "Other")})]
    plain = [secret.removeprefix("whsec_"), "Sup3r-Secret-Pw", "Other-Secret-Pw",
             "TIiajkdnlazkcOXrIdevi7FQ"]
    for answer in answers:
        assert not any(p in answer.text for p in plain), answer.text
    chat = answers[2].json()
    assert chat["target"].startswith("slack://") and chat["secret_set"] is True
    with db.transaction() as session:
        raw = session.execute(sa.text("SELECT name, secret_ciphertext FROM receiver")).all()
        audit = json.dumps([a.details for a in session.scalars(select(AuditEntry))])
    assert len(raw) == 3
    stored = " ".join(token for _, token in raw)
    assert stored.startswith("gAAAA"), "Fernet tokens"
    assert not any(p in stored for p in plain) and not any(p in audit for p in plain)


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "webhook", "url": "ftp://example.com/x", "secret": new_secret()}, "url"),
    ({"kind": "webhook", "url": "javascript:alert(1)", "secret": new_secret()}, "url"),
    ({"kind": "webhook", "url": "https://u:p@example.com/", "secret": new_secret()}, "url"),
    ({"kind": "webhook", "url": "https://example.com/"}, "secret"),
    ({"kind": "webhook", "url": "https://example.com/", "secret": "whsec_!!notbase64"},
     "secret"),
    ({"kind": "webhook", "url": "https://example.com/", "secret": "whsec_c2hvcnQ="}, "secret"),
    ({"kind": "webhook", "url": "https://example.com/", "secret": new_secret(),
      "apprise_url": SLACK_URL}, "apprise_url"),
    ({"kind": "email", "apprise_url": SLACK_URL}, "apprise_url"),
    ({"kind": "chat", "apprise_url": "mailto://smtp.example.com/a@example.com"},
     "apprise_url"),
    ({"kind": "chat", "apprise_url": "nosuchtool://token"}, "apprise_url"),
    ({"kind": "chat"}, "apprise_url"),
    ({"kind": "chat", "apprise_url": SLACK_URL, "secret": new_secret()}, "secret"),
    ({"kind": "sms", "apprise_url": SLACK_URL}, "kind"),
    ({"kind": "chat", "apprise_url": SLACK_URL, "filters": {"severities": ["fatal"]}},
     "filters.severities.0"),
    ({"kind": "chat", "apprise_url": SLACK_URL, "filters": {"rule_ids": [2**63]}},
     "filters.rule_ids.0"),
    ({"kind": "chat", "apprise_url": SLACK_URL, "filters": {"tiers": ["extreme"]}},
     "filters.tiers.0"),
    ({"kind": "chat", "apprise_url": SLACK_URL + "\u0000"}, "apprise_url"),
    ({"kind": "chat", "apprise_url": SLACK_URL, "colour": "red"}, "colour"),
])
def test_invalid_receivers_are_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                                    field: str) -> None:
    response = client.post("/v1/receivers", json={"name": "bad", **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/receivers", {"name": "", "kind": "chat", "apprise_url": SLACK_URL}),
    ("POST", "/v1/receivers", {"name": "a/b", "kind": "chat", "apprise_url": SLACK_URL}),
    ("POST", "/v1/receivers", {"name": "x" * 101, "kind": "chat", "apprise_url": SLACK_URL}),
    ("POST", "/v1/receivers", {"name": "nul\u0000", "kind": "chat", "apprise_url": SLACK_URL}),
    ("POST", "/v1/receivers", {"name": "\ud800", "kind": "chat", "apprise_url": SLACK_URL}),
    ("POST", "/v1/receivers", ["not", "an", "object"]),
    ("POST", "/v1/receivers", {"name": "deep", "kind": "chat",
                               "apprise_url": json.loads("[" * 80 + "]" * 80)}),
    ("GET", "/v1/receivers/0", None),
    ("GET", "/v1/receivers/-1", None),
    ("GET", f"/v1/receivers/{2**63}", None),
    ("GET", "/v1/receivers/abc", None),
    ("GET", "/v1/receivers/999", None),
    ("PATCH", "/v1/receivers/999", {"enabled": True}),
    ("POST", "/v1/receivers/999/test", None),
    ("GET", "/v1/receivers/999/deliveries", None),
    ("GET", "/v1/alerts/1/deliveries?limit=0", None),
    ("GET", "/v1/alerts/1/deliveries?limit=100000", None),
    ("GET", "/v1/alerts/1/deliveries?before=-5", None),
    ("GET", "/v1/alerts/1/deliveries?before=%00", None),
    ("POST", "/v1/receivers/999/deliveries/1/redeliver", None),
])
def test_hostile_input_on_receiver_routes_is_a_4xx(client: TestClient, method: str, path: str,
                                                   body: Any) -> None:
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs["content"] = json.dumps(body)
        kwargs["headers"] = {"content-type": "application/json"}
    response = client.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


def test_a_patch_that_does_not_fit_the_kind_is_refused_and_changes_nothing(
        client: TestClient) -> None:
    rid = client.post("/v1/receivers", json=webhook()).json()["id"]
    other = client.post("/v1/receivers", json=webhook("other")).json()["id"]
    assert client.patch(f"/v1/receivers/{rid}",
                        json={"apprise_url": SLACK_URL}).status_code == 422
    assert client.patch(f"/v1/receivers/{rid}", json={"url": None}).status_code == 422
    assert client.patch(f"/v1/receivers/{rid}", json={"kind": "chat"}).status_code == 422
    assert client.patch(f"/v1/receivers/{other}", json={"name": "desk"}).status_code == 409
    assert client.get(f"/v1/receivers/{rid}").json()["url"] == "https://hooks.example.com/rw"


def test_a_test_notification_is_sent_now_and_recorded(
        client: TestClient, db: Database) -> None:
    with webhook_server() as hook, smtp_server() as mailbox:
        hook_id = client.post("/v1/receivers", json={
            "name": "hook", "kind": "webhook", "url": hook.url, "secret": hook.secret,
            "enabled": False}).json()["id"]
        mail_id = client.post("/v1/receivers", json={
            "name": "mail", "kind": "email",
            "apprise_url": mailbox.apprise_url()}).json()["id"]
        sent = client.post(f"/v1/receivers/{hook_id}/test")
        mailed = client.post(f"/v1/receivers/{mail_id}/test")
    assert sent.status_code == 200, sent.text
    assert (sent.json()["status"], sent.json()["notification"]) == ("delivered", "test")
    assert sent.json()["attempts"][0]["status_code"] == 200
    [got] = hook.received
    assert got.verified and got.document["type"] == "alert.test"
    assert mailed.json()["status"] == "delivered" and len(mailbox.messages) == 1
    with db.transaction() as session:
        assert session.scalars(select(WorkItem)).all() == [], "a test is never retried"


def test_a_test_to_a_receiver_that_is_down_answers_failed_without_retrying(
        client: TestClient, db: Database) -> None:
    rid = client.post("/v1/receivers", json=webhook(url=down_url())).json()["id"]
    answer = client.post(f"/v1/receivers/{rid}/test")
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed" and answer.json()["attempt_count"] == 1
    assert answer.json()["attempts"][0]["error"].startswith("ConnectError")
    assert answer.json()["attempts"][0]["retry_at"] is None
    with db.transaction() as session:
        assert session.scalars(select(WorkItem)).all() == []


def test_redelivery_is_refused_while_pending_and_for_another_receivers_delivery(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    first = client.post("/v1/receivers", json=webhook("a", url=down_url())).json()["id"]
    second = client.post("/v1/receivers", json=webhook("b", url=down_url())).json()["id"]
    notify(db, snapshot(5))
    worker(db, settings).consumer("notify").run_once()
    items = client.get(f"/v1/receivers/{first}/deliveries").json()["items"]
    [pending] = items
    assert pending["status"] == "pending"
    assert client.post(f"/v1/receivers/{first}/deliveries/{pending['id']}/redeliver"
                       ).status_code == 409
    assert client.post(f"/v1/receivers/{second}/deliveries/{pending['id']}/redeliver"
                       ).status_code == 404
    drain(worker(db, settings))
    assert client.patch(f"/v1/receivers/{first}", json={"enabled": False}).status_code == 200
    assert client.post(f"/v1/receivers/{first}/deliveries/{pending['id']}/redeliver"
                       ).status_code == 409
    by_alert = client.get("/v1/alerts/5/deliveries?limit=1").json()
    assert len(by_alert["items"]) == 1 and by_alert["next_cursor"] is not None
    older = client.get(f"/v1/alerts/5/deliveries?before={by_alert['next_cursor']}").json()
    assert len(older["items"]) == 1 and older["next_cursor"] is None
    assert {d["status"] for d in by_alert["items"] + older["items"]} == {"failed"}
    failed = client.get(f"/v1/receivers/{second}/deliveries?status=failed").json()["items"]
    assert len(failed) == 1 and len(failed[0]["attempts"]) == settings.delivery_max_attempts
