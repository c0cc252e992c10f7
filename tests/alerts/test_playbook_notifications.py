"""Receivers hear of playbook runs over real HTTP: a run started, a step overdue (once) and
a run completed reach a local webhook, signed; a drill's reach only receivers that opt in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from services.alerts.app import create_app
from services.alerts.playbooks import runs
from services.alerts.receivers.messages import message_text
from services.alerts.receivers.settings import ReceiverSettings, get_receiver_settings
from shared.db import Database
from shared.models import utcnow
from shared.models.playbooks import PlaybookStep
from tests.alerts.conftest import add_customer, drain, only_rules, post_event
from tests.alerts.receivers_support import drain as drain_receivers
from tests.alerts.receivers_support import fast_settings, webhook_server, worker
from tests.conftest import auth_headers


@pytest.fixture
def settings() -> ReceiverSettings:
    return fast_settings()


@pytest.fixture
def client(db: Database, database_url: str, settings: ReceiverSettings
           ) -> Iterator[TestClient]:
    app = create_app(database_url)
    app.dependency_overrides[get_receiver_settings] = lambda: settings
    with TestClient(app) as test_client:
        yield test_client


def _writer() -> dict[str, str]:
    return auth_headers("alerts:read", "alerts:write", key_id="ops-key", name="ops")


def _seen(received: list[Any]) -> list[tuple[str, str]]:
    assert all(r.verified for r in received)
    return sorted((r.document["type"], r.document["data"]["alert"]["customer_id"])
                  for r in received)


def test_run_and_overdue_notifications_reach_receivers_and_drills_only_those_opting_in(
        client: TestClient, db: Database, settings: ReceiverSettings) -> None:
    only_rules(db, {"name": "any order", "kind": "event", "severity": "warning",
                    "params": {"event_type": "order.placed"}})
    created = client.post("/v1/playbooks", headers=_writer(), json={
        "name": "Order watch", "trigger": {"event_types": ["order.placed"]},
        "steps": [{"title": "Check the order", "owner_role": "credit_controller",
                   "due_within_minutes": 30}]})
    assert created.status_code == 201, created.text
    with webhook_server() as ops, webhook_server() as drills:
        for name, hook, more in (("ops", ops, {}), ("drill-desk", drills,
                                                    {"include_drills": True})):
            response = client.post("/v1/receivers", headers=_writer(), json={
                "name": name, "kind": "webhook", "url": hook.url, "secret": hook.secret,
                **more})
            assert response.status_code == 201, response.text
        add_customer(db, "real-1")
        add_customer(db, "drill-1", is_drill=True)
        for customer_id in ("real-1", "drill-1"):
            post_event(db, customer_id, "order.placed", amount="10.00", currency="EUR")
        drain(db)
        with db.transaction() as session:  # the step's deadline passed
            session.execute(update(PlaybookStep).values(
                due_at=utcnow() - dt.timedelta(seconds=1)))
        with db.transaction() as session:
            assert runs.mark_overdue(session) == 2
        with db.transaction() as session:
            assert runs.mark_overdue(session) == 0
        drain_receivers(worker(db, settings))
        assert _seen(ops.received) == [("alert.opened", "real-1"),
                                       ("playbook.run_started", "real-1"),
                                       ("playbook.step_overdue", "real-1")]
        assert _seen(drills.received) == sorted(
            (kind, customer) for customer in ("real-1", "drill-1")
            for kind in ("alert.opened", "playbook.run_started", "playbook.step_overdue"))
        overdue = next(r.document for r in ops.received
                       if r.document["type"] == "playbook.step_overdue")
        assert overdue["data"]["playbook"]["step"]["title"] == "Check the order"
        assert overdue["data"]["playbook"]["playbook_name"] == "Order watch"
        assert overdue["data"]["alert"]["drill"] is False
        text = message_text(overdue["data"])  # what an e-mail or chat receiver gets
        assert text.title.startswith("[WARNING] Playbook step overdue: ")
        assert "Playbook: Order watch (run #" in text.body
        assert "Step 1: Check the order · owner credit_controller · due " in text.body

        # The run completes: the receivers are told once more.
        run_id = overdue["data"]["playbook"]["run_id"]
        done = client.post(f"/v1/playbook-runs/{run_id}/steps/1/done", headers=_writer())
        assert done.status_code == 200 and done.json()["status"] == "completed"
        drain_receivers(worker(db, settings))
        assert _seen(ops.received) == [("alert.opened", "real-1"),
                                       ("playbook.run_completed", "real-1"),
                                       ("playbook.run_started", "real-1"),
                                       ("playbook.step_overdue", "real-1")]
        assert ("playbook.run_completed", "drill-1") not in _seen(drills.received)
