"""The gateway in front of real service processes: auth, routing, limits, failure isolation."""

from __future__ import annotations

import httpx

from shared.auth import create_key
from shared.db import Database
from tests.stack import Stack


def test_health_reports_every_service_up(live: Stack) -> None:
    body = httpx.get(f"{live.gateway}/healthz").json()
    assert body["status"] == "ok"
    assert {name: s["status"] for name, s in body["services"].items()} == {
        "ingest": "up", "scoring": "up", "alerts": "up", "reviews": "up", "cockpit": "up"}


def test_v1_without_key_is_401_problem(live: Stack) -> None:
    response = httpx.get(f"{live.gateway}/v1/audit/verify")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_unknown_key_is_401(live: Stack) -> None:
    response = httpx.get(f"{live.gateway}/v1/audit/verify", headers=live.headers("rw_nope"))
    assert response.status_code == 401


def test_key_without_scope_is_403_and_with_scope_passes(live: Stack, db: Database) -> None:
    with db.transaction() as session:
        _, reader = create_key(session, name="reader", scopes=["risk:read"])
    forbidden = httpx.get(f"{live.gateway}/v1/audit/verify", headers=live.headers(reader))
    assert forbidden.status_code == 403
    assert forbidden.json()["required_scopes"] == ["audit:read"]
    allowed = httpx.get(f"{live.gateway}/v1/audit/verify", headers={"X-API-Key": live.admin_key})
    assert allowed.status_code == 200
    assert allowed.json()["ok"] is True
