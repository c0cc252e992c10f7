"""Playbooks through the alerts app: the built-in ones, a run started once per (playbook,
alert) in the alert's own transaction, steps worked and audited, the work list, timelines
and statistics, overdue steps marked and notified once, and drills created."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from services.alerts.playbooks import runs
from shared.db import Database
from shared.models import AuditEntry, Customer, WorkItem, utcnow
from shared.models.playbooks import PlaybookRun, PlaybookStep
from shared.topics import ALERTS_DRILL
from tests.alerts.conftest import (
    READ,
    WRITE,
    add_customer,
    alerts,
    drain,
    notifications,
    only_rules,
    post_event,
)

ORDERS = {"name": "any order", "kind": "event", "severity": "warning",
          "params": {"event_type": "order.placed"}}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _playbook(client: TestClient, **changes: Any) -> dict[str, Any]:
    body = {"name": "Order watch", "trigger": {"event_types": ["order.placed"]},
            "steps": [{"title": "Check the order", "owner_role": "credit_controller",
                       "due_within_minutes": 30, "instructions": "Look at it."},
                      {"title": "Call", "owner_role": "account_owner",
                       "due_within_minutes": 60}],
            "drill_events": [{"type": "order.placed",
                              "data": {"amount": "10.00", "currency": "EUR"}}],
            **changes}
    return _ok(client.post("/v1/playbooks", json=body, headers=WRITE), 201)  # type: ignore[no-any-return]


def _runs(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    return _ok(client.get("/v1/playbook-runs", params=params, headers=READ))["items"]  # type: ignore[no-any-return]


def test_the_built_in_playbooks_are_seeded_once_and_triggered_by_built_in_rules(
        client: TestClient, db: Database) -> None:
    from services.alerts.playbooks.service import ensure_builtin_playbooks

    with db.transaction() as session:
        assert ensure_builtin_playbooks(session) == 0  # the app seeded them at start
    playbooks = {p["name"]: p for p in _ok(client.get("/v1/playbooks", headers=READ))}
    assert set(playbooks) == {"Customer default", "Churn risk", "Complaint surge"}
    default = playbooks["Customer default"]
    assert default["builtin"] and default["enabled"]
    assert [s["title"] for s in default["steps"]] == [
        "Freeze new credit", "Notify the account owner", "Start collection"]
    rules = {r["id"]: r["name"] for r in _ok(client.get("/v1/alert-rules", headers=READ))["items"]}
    assert {rules[i] for i in default["trigger"]["rule_ids"]} == {
        "Customer defaulted", "Invoice written off", "Days past due over 90"}
    surge = playbooks["Complaint surge"]
    assert [s["title"] for s in surge["steps"]] == ["Escalate to the service lead",
                                                     "Find the root cause"]
    assert len(surge["drill_events"]) == 3


def test_an_alert_starts_one_run_whose_steps_are_worked_audited_and_completed(
        client: TestClient, db: Database) -> None:
    only_rules(db, ORDERS)
    playbook = _playbook(client)
    add_customer(db, "c-1", owner="a.owner")
    post_event(db, "c-1", "order.placed", amount="10.00", currency="EUR")
    post_event(db, "c-1", "order.placed", amount="12.00", currency="EUR")  # a repeat hit
    drain(db)
    [alert] = alerts(db)
    [run] = _runs(client, customer_id="c-1")
    assert (run["playbook_id"], run["alert_id"], run["status"]) == (playbook["id"], alert.id,
                                                                     "open")
    assert run["alert_opened_at"] == run["started_at"] or run["started_at"] >= \
        run["alert_opened_at"]
    assert [s["status"] for s in run["steps"]] == ["pending", "pending"]
    assert [s["assignee"] for s in run["steps"]] == [None, "a.owner"]  # the account owner
    started = [n for n in notifications(db) if n["notification"] == "run_started"]
    assert len(started) == 1 and started[0]["playbook"]["run_id"] == run["id"]
    assert started[0]["alert"]["id"] == alert.id

    base = f"/v1/playbook-runs/{run['id']}/steps"
    assert _ok(client.post(f"{base}/1/start", headers=WRITE))["steps"][0]["status"] == \
        "in_progress"
    assert client.post(f"{base}/1/start", headers=WRITE).status_code == 409
    assert client.post(f"{base}/9/start", headers=WRITE).status_code == 404
    assert client.post("/v1/playbook-runs/999999/steps/1/start", headers=WRITE
                       ).status_code == 404
    assert client.post(f"{base}/1/done", headers=READ).status_code == 403
    _ok(client.post(f"{base}/1/done", headers=WRITE))
    for bad in ({}, {"reason": "   "}, {"reason": "x", "extra": 1}):
        problem = client.post(f"{base}/2/skip", json=bad, headers=WRITE)
        assert problem.status_code == 422, bad
        assert problem.headers["content-type"].startswith("application/problem+json")
    reassigned = _ok(client.put(f"{base}/2/assignee", json={"assignee": "j.doe"},
                                headers=WRITE))
    assert reassigned["steps"][1]["assignee"] == "j.doe"
    assert [r["id"] for r in _runs(client, assignee="j.doe")] == [run["id"]]
    assert _runs(client, assignee="a.owner") == []
    assert _runs(client, overdue="true") == []
    assert [r["id"] for r in _runs(client, overdue="false")] == [run["id"]]
    done = _ok(client.post(f"{base}/2/skip", json={"reason": "Owner on leave"},
                           headers=WRITE))
    assert done["status"] == "completed" and done["seconds_to_complete"] >= 0
    assert client.post(f"{base}/2/done", headers=WRITE).status_code == 409
    assert client.put(f"{base}/2/assignee", json={"assignee": "x"},
                      headers=WRITE).status_code == 409
    assert _runs(client, assignee="j.doe") == []  # nothing left to do
    completed = [n for n in notifications(db) if n["notification"] == "run_completed"]
    assert len(completed) == 1 and completed[0]["playbook"]["run_status"] == "completed"

    detail = _ok(client.get(f"/v1/playbook-runs/{run['id']}", headers=READ))
    assert [(e["what"], e["step"]) for e in detail["timeline"]] == [
        ("alert_raised", None), ("run_started", None), ("step_started", 1), ("step_done", 1),
        ("step_skipped", 2), ("run_completed", None)]
    assert detail["timeline"][4]["detail"] == "Owner on leave"
    assert detail["steps"][1]["skip_reason"] == "Owner on leave"
    with db.sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_type == "playbook_run").order_by(AuditEntry.id)))
    assert actions == ["playbook_runs.started", "playbook_step.started",
                       "playbook_step.done", "playbook_step.reassigned",
                       "playbook_step.skipped", "playbook_run.completed"]
    stats = _ok(client.get(f"/v1/playbooks/{playbook['id']}/stats", headers=READ))
    assert stats["real"]["runs"] == stats["real"]["completed"] == 1
    assert stats["real"]["median_seconds_to_complete"] == done["seconds_to_complete"]
    assert stats["drills"] == {"runs": 0, "open": 0, "completed": 0,
                               "median_seconds_to_complete": None,
                               "p90_seconds_to_complete": None}


def test_a_playbook_starts_only_for_alerts_its_trigger_matches_and_only_when_enabled(
        client: TestClient, db: Database) -> None:
    [orders] = only_rules(db, ORDERS)
    by_rule = _playbook(client, name="by rule", trigger={"rule_ids": [orders],
                                                          "tiers": ["high"]})
    _playbook(client, name="by severity", trigger={"severities": ["critical"]})
    off = _playbook(client, name="off", trigger={"rule_ids": [orders]}, enabled=False)
    assert not off["enabled"]
    add_customer(db, "c-1")
    post_event(db, "c-1", "order.placed", amount="10.00", currency="EUR")
    drain(db)
    # "Order watch" is not there; "by rule" needs tier high (unscored: no tier), severity
    # is warning, and "off" is disabled.
    assert _runs(client) == []
    _ok(client.patch(f"/v1/playbooks/{by_rule['id']}", json={"trigger": {
        "rule_ids": [orders]}}, headers=WRITE))
    add_customer(db, "c-2")
    post_event(db, "c-2", "order.placed", amount="10.00", currency="EUR")
    drain(db)
    assert [r["playbook_name"] for r in _runs(client)] == ["by rule"]


def test_bad_playbooks_are_refused_naming_the_field(client: TestClient, db: Database) -> None:
    _playbook(client)
    cases = [
        ({"trigger": {}}, "trigger"),
        ({"trigger": {"rule_ids": [987654]}}, "trigger.rule_ids.0"),
        ({"steps": []}, "steps"),
        ({"steps": [{"title": "x", "owner_role": "Not A Role", "due_within_minutes": 5}]},
         "steps.0.owner_role"),
        ({"steps": [{"title": "x", "owner_role": "r", "due_within_minutes": 0}]},
         "steps.0.due_within_minutes"),
        ({"trigger": {"tiers": ["huge"]}}, "trigger.tiers.0"),
    ]
    for change, field in cases:
        response = client.post("/v1/playbooks", headers=WRITE,
                               json={"name": "other", "trigger": {"severities": ["info"]},
                                     "steps": [{"title": "t", "owner_role": "r",
                                                "due_within_minutes": 5}], **change})
        assert response.status_code == 422, (change, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    assert client.post("/v1/playbooks", headers=WRITE, json={
        "name": "Order watch", "trigger": {"severities": ["info"]},
        "steps": [{"title": "t", "owner_role": "r", "due_within_minutes": 5}]}
    ).status_code == 409
    assert client.post("/v1/playbooks", headers=READ, json={}).status_code in (403, 422)
    assert client.get("/v1/playbooks/987654", headers=READ).status_code == 404
    assert client.get("/v1/playbooks/987654/stats", headers=READ).status_code == 404
    assert client.get("/v1/playbook-runs?cursor=nonsense", headers=READ).status_code == 400
    assert client.get("/v1/playbooks").status_code == 401


def test_a_run_starts_once_per_playbook_and_alert_however_many_transactions_try(
        client: TestClient, db: Database) -> None:
    only_rules(db, ORDERS)
    _playbook(client)
    add_customer(db, "c-1")
    post_event(db, "c-1", "order.placed", amount="10.00", currency="EUR")
    drain(db)
    [alert] = alerts(db)
    with db.transaction() as session:
        session.execute(select(PlaybookRun))  # the run the evaluation started
        session.query(PlaybookStep).delete()
        session.query(PlaybookRun).delete()
    opened = runs.OpenedAlert(
        alert_id=alert.id, rule_id=alert.rule_id, severity=alert.severity, tier=None,
        customer_id="c-1", customer_owner=None, event_type="order.placed", drill=False,
        silenced=False, opened_at=alert.opened_at, snapshot={"id": alert.id})
    together = threading.Barrier(2)
    started: list[list[int]] = []

    def start() -> None:
        with db.transaction() as session:
            together.wait(timeout=10)
            started.append(runs.start_runs(session, [opened], now=utcnow()))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(ids) for ids in started) == [0, 1]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlaybookRun)) == 1
        assert session.scalar(select(func.count()).select_from(PlaybookStep)) == 2


def test_overdue_steps_are_listed_and_notified_once_each(client: TestClient,
                                                         db: Database) -> None:
    only_rules(db, ORDERS)
    _playbook(client)
    add_customer(db, "c-1")
    post_event(db, "c-1", "order.placed", amount="10.00", currency="EUR")
    drain(db)
    [run] = _runs(client)
    with db.transaction() as session:  # the first step's deadline passed
        session.execute(update(PlaybookStep).where(PlaybookStep.position == 1).values(
            due_at=utcnow() - dt.timedelta(minutes=1)))
    [listed] = _runs(client, overdue="true")
    assert listed["id"] == run["id"] and listed["steps"][0]["overdue"]
    assert _runs(client, overdue="true", owner_role="account_owner") == []
    with db.transaction() as session:
        assert runs.mark_overdue(session) == 1
    with db.transaction() as session:
        assert runs.mark_overdue(session) == 0  # told once
    overdue = [n for n in notifications(db) if n["notification"] == "step_overdue"]
    assert len(overdue) == 1
    assert overdue[0]["playbook"]["step"]["title"] == "Check the order"
    detail = _ok(client.get(f"/v1/playbook-runs/{run['id']}", headers=READ))
    assert detail["steps"][0]["overdue_notified_at"] is not None
    assert "step_overdue" in [e["what"] for e in detail["timeline"]]


def test_run_counts_tell_runs_in_progress_completed_and_overdue_under_the_list_filters(
        client: TestClient, db: Database) -> None:
    only_rules(db, ORDERS)
    _playbook(client)
    for customer in ("c-1", "c-2"):
        add_customer(db, customer)
        post_event(db, customer, "order.placed", amount="10.00", currency="EUR")
    drain(db)

    def counts(**params: Any) -> dict[str, Any]:
        return _ok(client.get("/v1/playbook-runs/counts", params=params, headers=READ))  # type: ignore[no-any-return]

    assert counts() == {"total": 2, "by_status": {"open": 2, "completed": 0}, "overdue": 0}
    [late] = _runs(client, customer_id="c-1")
    with db.transaction() as session:  # c-1's first step is past due
        session.execute(update(PlaybookStep).where(PlaybookStep.run_id == late["id"],
                                                   PlaybookStep.position == 1).values(
            due_at=utcnow() - dt.timedelta(minutes=1)))
    [finished] = _runs(client, customer_id="c-2")
    for position in (1, 2):
        _ok(client.post(f"/v1/playbook-runs/{finished['id']}/steps/{position}/done",
                        headers=WRITE))
    assert counts() == {"total": 2, "by_status": {"open": 1, "completed": 1}, "overdue": 1}
    assert counts(status="open")["total"] == len(_runs(client, status="open")) == 1
    assert counts(customer_id="c-2") == {"total": 1, "by_status": {"open": 0, "completed": 1},
                                         "overdue": 0}
    assert counts(overdue="false")["by_status"] == {"open": 0, "completed": 1}
    assert client.get("/v1/playbook-runs/counts", params={"status": "stuck"},
                      headers=READ).status_code == 422
    assert client.get("/v1/playbook-runs/counts").status_code == 401


def test_a_drill_makes_a_marked_customer_and_queues_its_scenario(
        client: TestClient, db: Database) -> None:
    only_rules(db, ORDERS)
    playbook = _playbook(client)
    drill = _ok(client.post("/v1/drills", json={"playbook_id": playbook["id"]},
                            headers=WRITE), 202)
    assert drill["status"] == "sending" and drill["customer_id"].startswith("drill-")
    assert [e["type"] for e in drill["events"]] == ["order.placed"]
    with db.sessions() as session:
        customer = session.get(Customer, drill["customer_id"])
        assert customer is not None and customer.is_drill
        items = list(session.scalars(select(WorkItem.payload).where(
            WorkItem.topic == ALERTS_DRILL)))
    assert items == [{"drill_id": drill["id"]}]
    assert _ok(client.get(f"/v1/drills/{drill['id']}", headers=READ))["id"] == drill["id"]
    assert [d["id"] for d in _ok(client.get("/v1/drills", headers=READ))["items"]] == [
        drill["id"]]
    assert client.post("/v1/drills", json={"playbook_id": 987654},
                       headers=WRITE).status_code == 404
    bare = _playbook(client, name="bare", drill_events=[])
    problem = client.post("/v1/drills", json={"playbook_id": bare["id"]}, headers=WRITE)
    assert problem.status_code == 422 and problem.json()["errors"][0]["field"] == "events"
    _ok(client.patch(f"/v1/playbooks/{bare['id']}", json={"enabled": False}, headers=WRITE))
    assert client.post("/v1/drills", json={"playbook_id": bare["id"], "events": [
        {"type": "order.placed"}]}, headers=WRITE).status_code == 409
    assert client.get("/v1/drills/987654", headers=READ).status_code == 404


def test_each_built_in_drill_scenario_starts_its_own_playbook(client: TestClient,
                                                              db: Database) -> None:
    playbooks = _ok(client.get("/v1/playbooks", headers=READ))
    assert len(playbooks) == 3
    for playbook in playbooks:
        customer_id = f"drill-{playbook['id']}"
        add_customer(db, customer_id, is_drill=True)
        for event in playbook["drill_events"]:
            post_event(db, customer_id, event["type"], **event["data"])
    drain(db)
    started = {(r["customer_id"], r["playbook_name"]) for r in _runs(client, drill="true")}
    assert started == {(f"drill-{p['id']}", p["name"]) for p in playbooks}
    assert all(a.drill for a in alerts(db))
    assert _runs(client, drill="false") == []
