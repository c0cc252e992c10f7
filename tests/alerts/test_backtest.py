"""Backtests replay stored history through a rule (saved or not) and raise nothing."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import insert

from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import Score
from tests.alerts.conftest import READ, WRITE, add_customer, add_events, alerts, event


def _history(db: Database) -> dt.datetime:
    now = utcnow()
    for cid in ("c-1", "c-2", "c-3"):
        add_customer(db, cid)
    add_events(db, *[event("c-1", "complaint.opened", now - dt.timedelta(days=d),
                           complaint_id=f"k{d}") for d in (50, 49, 48, 10)],
               event("c-2", "complaint.opened", now - dt.timedelta(days=5), complaint_id="x"),
               event("c-3", "customer.defaulted", now - dt.timedelta(days=20)))
    with db.transaction() as session:
        session.execute(insert(Score), [
            {"customer_id": cid, "target": "default", "scored_at": now - dt.timedelta(d),
             "pd": pd, "points": 600, "tier": tier, "model_version": "m",
             "feature_set": "core", "feature_set_version": 1, "reasons": [],
             "trigger": "event", "shadow": False}
            for cid, d, pd, tier in (("c-2", 90, 0.03, "medium"), ("c-2", 30, 0.15, "high"),
                                     ("c-3", 60, 0.01, "low"), ("c-3", 25, 0.05, "medium"))])
    return now


def test_a_draft_rule_backtest_reports_who_and_when_without_raising(
        client: TestClient, db: Database) -> None:
    now = _history(db)
    response = client.post("/v1/alert-rules/backtest", headers=READ, json={
        "rule": {"name": "complaint surge", "kind": "threshold",
                 "params": {"indicator": "complaints", "operator": ">=", "value": 3,
                            "window_days": 30}},
        "start": (now - dt.timedelta(days=60)).isoformat()})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["alerts"] == 1 and report["customers"] == 1
    [item] = report["items"]
    assert item["customer_id"] == "c-1" and item["values"]["complaints"] == 3
    opened = dt.datetime.fromisoformat(item["opened_at"])
    assert abs((opened - (now - dt.timedelta(days=48))).total_seconds()) < 5
    assert alerts(db) == []


def test_a_saved_change_rule_backtests_over_score_history(
        client: TestClient, db: Database) -> None:
    now = _history(db)
    rule = client.post("/v1/alert-rules", headers=WRITE, json={
        "name": "to high", "kind": "change",
        "params": {"change": "tier_worsened", "to_tiers": ["high"], "window_days": 90}}).json()
    response = client.post(f"/v1/alert-rules/{rule['id']}/backtest", headers=READ, json={
        "start": (now - dt.timedelta(days=100)).isoformat()})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rule_id"] == rule["id"]
    assert [i["customer_id"] for i in report["items"]] == ["c-2"]
    assert report["items"][0]["values"]["tier_before"] == "medium"


def test_a_backtest_refuses_a_bad_window_or_rule(client: TestClient) -> None:
    now = utcnow()
    too_long = client.post("/v1/alert-rules/backtest", headers=READ, json={
        "rule": {"name": "x", "kind": "event", "params": {"event_type": "a"}},
        "start": (now - dt.timedelta(days=4000)).isoformat()})
    assert too_long.status_code == 422
    bad_rule = client.post("/v1/alert-rules/backtest", headers=READ, json={
        "rule": {"name": "x", "kind": "expression", "params": {"expression": "risk.pd >"}},
        "start": (now - dt.timedelta(days=4)).isoformat()})
    assert bad_rule.status_code == 422
    assert bad_rule.json()["errors"][0]["field"] == "params.expression"
    unknown = client.post("/v1/alert-rules/999999/backtest", headers=READ, json={
        "start": (now - dt.timedelta(days=4)).isoformat()})
    assert unknown.status_code == 404


def test_an_event_rule_backtest_respects_the_cooldown(client: TestClient, db: Database) -> None:
    now = utcnow()
    add_customer(db, "c-1")
    add_events(db, *[event("c-1", "order.placed", now - dt.timedelta(hours=h), amount="5.00",
                           currency="EUR") for h in (50, 49, 20, 1)])
    response = client.post("/v1/alert-rules/backtest", headers=READ, json={
        "rule": {"name": "orders", "kind": "event", "params": {"event_type": "order.placed"},
                 "resolve_after_seconds": 7200, "cooldown_seconds": 86400},
        "start": (now - dt.timedelta(days=3)).isoformat()})
    report = response.json()
    # 50 h ago: opens; 49 h: a repeat hit; quiet from then: resolved at 47 h, cooling down
    # until 23 h; 20 h: opens again; 1 h: resolved at 18 h by then, and cooling down.
    assert report["alerts"] == 2, report
    assert [i["hit_count"] for i in report["items"]] == [2, 1]
