"""/v1/alerts and /v1/silences through the alerts app: filters and cursor pages, counts,
why an alert fired, the lifecycle with every transition audited, silences."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.db import Database
from shared.models import AuditEntry, utcnow
from tests.alerts.conftest import (
    READ,
    WRITE,
    add_customer,
    alerts,
    drain,
    notifications,
    only_rules,
    post_event,
    set_risk,
)

DPD = {"name": "DPD over 60", "kind": "threshold", "severity": "critical",
       "params": {"indicator": "days_past_due", "operator": ">", "value": 60}}
ORDERS = {"name": "any order", "kind": "event", "severity": "info",
          "params": {"event_type": "order.placed"}}


def _raise_alerts(db: Database, customers: int = 3) -> None:
    only_rules(db, DPD, ORDERS)
    for i in range(customers):
        cid = f"c-{i}"
        add_customer(db, cid)
        set_risk(db, cid, tier="high" if i == 0 else "medium",
                 features={"days_past_due": 75})
        post_event(db, cid, "order.placed", amount="10.00", currency="EUR")
    drain(db)


def test_alerts_are_listed_filtered_and_paged_with_a_cursor(
        client: TestClient, db: Database) -> None:
    _raise_alerts(db)
    everything = client.get("/v1/alerts", headers=READ).json()
    assert len(everything["items"]) == 6 and everything["next_cursor"] is None
    ids = [a["id"] for a in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    pages, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/alerts", params=params, headers=READ).json()
        pages.append([a["id"] for a in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [ids[:4], ids[4:]]
    critical = client.get("/v1/alerts", params={"severity": "critical"}, headers=READ).json()
    assert {a["rule_name"] for a in critical["items"]} == {"DPD over 60"}
    high = client.get("/v1/alerts", params={"tier": "high"}, headers=READ).json()
    assert {a["customer_id"] for a in high["items"]} == {"c-0"}
    one = client.get("/v1/alerts", params={"customer_id": "c-1", "rule_id":
                                           critical["items"][0]["rule_id"]},
                     headers=READ).json()
    assert len(one["items"]) == 1
    later = client.get("/v1/alerts", params={"opened_after": (
        utcnow() + dt.timedelta(minutes=1)).isoformat()}, headers=READ).json()
    assert later["items"] == []
    newer = client.get("/v1/alerts", params={"since_id": ids[-1]}, headers=READ).json()
    assert [a["id"] for a in newer["items"]] == sorted(ids)[1:]
    bad = client.get("/v1/alerts", params={"cursor": "not-a-cursor"}, headers=READ)
    assert bad.status_code == 400


def test_counts_by_status_and_severity(client: TestClient, db: Database) -> None:
    _raise_alerts(db)
    first = alerts(db)[0]
    client.post(f"/v1/alerts/{first.id}/acknowledge", headers=WRITE)
    counts = client.get("/v1/alerts/counts", headers=READ).json()
    assert counts["total"] == 6
    assert counts["by_status"] == {"open": 5, "acknowledged": 1, "resolved": 0}
    assert counts["by_severity"] == {"info": 3, "warning": 0, "critical": 3}


def test_an_alert_shows_why_it_fired(client: TestClient, db: Database) -> None:
    _raise_alerts(db, customers=1)
    dpd = next(a for a in alerts(db) if a.severity == "critical")
    body = client.get(f"/v1/alerts/{dpd.id}", headers=READ).json()
    assert body["values"] == {"days_past_due": 75, "threshold": 60, "operator": ">"}
    assert body["reasons"][0]["feature"] == "days_past_due"
    assert body["rule_version"] == 1 and body["comments"] == []
    assert client.get("/v1/alerts/999999", headers=READ).status_code == 404


def test_the_lifecycle_is_audited_with_who_and_when(client: TestClient, db: Database) -> None:
    _raise_alerts(db, customers=1)
    alert_id = alerts(db)[0].id
    url = f"/v1/alerts/{alert_id}"
    assert client.post(f"{url}/acknowledge", headers=WRITE).json()["status"] == "acknowledged"
    assert client.post(f"{url}/acknowledge", headers=WRITE).status_code == 409
    assigned = client.put(f"{url}/assignee", json={"assignee": "j.doe"}, headers=WRITE)
    assert assigned.json()["assignee"] == "j.doe"
    assert client.get("/v1/alerts", params={"assignee": "j.doe"},
                      headers=READ).json()["items"][0]["id"] == alert_id
    comment = client.post(f"{url}/comments", json={"body": "called them"}, headers=WRITE)
    assert comment.status_code == 201 and comment.json()["author"] == "tests (test-key)"
    resolved = client.post(f"{url}/resolve", headers=WRITE).json()
    assert resolved["status"] == "resolved" and resolved["resolution"] == "manual"
    assert resolved["cooldown_until"] is not None
    assert client.post(f"{url}/resolve", headers=WRITE).status_code == 409
    reopened = client.post(f"{url}/reopen", headers=WRITE).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    assert [c["body"] for c in client.get(f"{url}/comments", headers=READ).json()] == [
        "called them"]
    with db.sessions() as session:
        actions = list(session.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.subject_type == "alert", AuditEntry.subject_id == str(alert_id))
            .order_by(AuditEntry.id)))
    assert [a for a, _ in actions] == ["alerts.opened", "alert.acknowledged", "alert.assigned",
                                       "alert.commented", "alert.resolved", "alert.reopened"]
    assert {actor for _, actor in actions[1:]} == {"tests (test-key)"}
    assert [n["notification"] for n in notifications(db)][-2:] == ["resolved", "reopened"]


def test_taking_an_alert_only_if_unassigned_refuses_one_someone_holds(
        client: TestClient, db: Database) -> None:
    _raise_alerts(db, customers=1)
    url = f"/v1/alerts/{alerts(db)[0].id}/assignee"
    first = client.put(url, json={"assignee": "ana", "if_unassigned": True}, headers=WRITE)
    assert first.status_code == 200 and first.json()["assignee"] == "ana"
    again = client.put(url, json={"assignee": "ana", "if_unassigned": True}, headers=WRITE)
    assert again.status_code == 200  # the holder taking it again is no conflict
    taken = client.put(url, json={"assignee": "bo", "if_unassigned": True}, headers=WRITE)
    assert taken.status_code == 409 and "ana" in taken.json()["detail"]
    assert client.get(url.removesuffix("/assignee"), headers=READ).json()["assignee"] == "ana"
    # without the condition, assignment stays a plain hand-over
    assert client.put(url, json={"assignee": "bo"}, headers=WRITE).json()["assignee"] == "bo"


def test_changes_need_alerts_write(client: TestClient, db: Database) -> None:
    _raise_alerts(db, customers=1)
    alert_id = alerts(db)[0].id
    assert client.post(f"/v1/alerts/{alert_id}/resolve", headers=READ).status_code == 403
    assert client.get("/v1/alerts").status_code == 401


def test_silences_apply_from_their_matchers_and_can_be_expired_early(
        client: TestClient, db: Database) -> None:
    only_rules(db, DPD)
    ends = (utcnow() + dt.timedelta(hours=2)).isoformat()
    created = client.post("/v1/silences", headers=WRITE, json={
        "customer_id": "c-0", "severity": "critical", "ends_at": ends, "comment": "legal"})
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["created_by"] == "tests (test-key)"
    for cid in ("c-0", "c-1"):
        add_customer(db, cid)
        set_risk(db, cid, features={"days_past_due": 75})
        post_event(db, cid, "order.placed", amount="10.00", currency="EUR")
    drain(db)
    flags = {a.customer_id: a.silenced for a in alerts(db)}
    assert flags == {"c-0": True, "c-1": False}
    assert [n["alert"]["customer_id"] for n in notifications(db)] == ["c-1"]
    listed = client.get("/v1/silences", params={"state": "active"}, headers=READ).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    assert client.delete(f"/v1/silences/{silence['id']}", headers=WRITE).status_code == 204
    assert client.get(f"/v1/silences/{silence['id']}",
                      headers=READ).json()["state"] == "expired"
    assert client.delete(f"/v1/silences/{silence['id']}", headers=WRITE).status_code == 409


def test_a_silence_needs_a_matcher_and_a_future_end(client: TestClient) -> None:
    ends = (utcnow() + dt.timedelta(hours=1)).isoformat()
    none = client.post("/v1/silences", json={"ends_at": ends, "comment": "x"}, headers=WRITE)
    assert none.status_code == 422
    past = client.post("/v1/silences", headers=WRITE, json={
        "tier": "high", "ends_at": (utcnow() - dt.timedelta(hours=1)).isoformat(),
        "comment": "x"})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "ends_at"
