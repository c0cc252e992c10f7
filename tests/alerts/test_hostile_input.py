"""Hostile input on the alerts routes: NUL and unpaired surrogates, deep nesting, numbers
beyond their columns. Each is a 4xx problem naming the field, and stores nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.db import Database
from shared.models.alerts import AlertRule, Silence
from tests.alerts.conftest import READ, WRITE


def _count(db: Database, model: type) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def _post(client: TestClient, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, content=json.dumps(body),
                       headers={**WRITE, "content-type": "application/json"})


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "kind": "threshold",
            "params": {"indicator": "pd", "operator": ">", "value": 0.1}, **fields}


@pytest.mark.parametrize(("body", "status", "field"), [
    (_rule(name="bad\x00name"), 422, "name"),
    (_rule(kind="expression", params={"expression": 'risk.tier == "\ud800"'}), 422,
     "params.expression"),
    (_rule(params={"indicator": "pd", "operator": ">", "value": 10**30}), 422,
     "params.value"),
    (_rule(params=_nested(40)), 422, "params"),
    (_rule(params=_nested(80)), 400, "body"),
    (_rule(cooldown_seconds=2**70), 422, "cooldown_seconds"),
    (_rule(kind="expression", params={"expression": "(" * 5000 + "true" + ")" * 5000}), 422,
     "params.expression"),
    (_rule(kind="expression", params={"expression": "!" * 9000 + "true"}), 422,
     "params.expression"),
])
def test_hostile_rules_are_refused(client: TestClient, db: Database, body: dict[str, Any],
                                   status: int, field: str) -> None:
    before = _count(db, AlertRule)
    response = _post(client, "/v1/alert-rules", body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert any(f.startswith(field) for f in fields), fields
    assert _count(db, AlertRule) == before


@pytest.mark.parametrize(("body", "field"), [
    ({"customer_id": "c\x00", "ends_at": "2999-01-01T00:00:00Z", "comment": "x"},
     "customer_id"),
    ({"rule_id": 2**64, "ends_at": "2999-01-01T00:00:00Z", "comment": "x"}, "rule_id"),
    ({"tier": "high", "ends_at": "2999-01-01T00:00:00Z", "comment": "\ud800"}, "comment"),
    ({"tier": "high", "ends_at": "99999-01-01T00:00:00Z", "comment": "x"}, "ends_at"),
])
def test_hostile_silences_are_refused(client: TestClient, db: Database,
                                      body: dict[str, Any], field: str) -> None:
    response = _post(client, "/v1/silences", body)
    assert response.status_code == 422, response.text
    assert any(e["field"].startswith(field) for e in response.json()["errors"])
    assert _count(db, Silence) == 0


@pytest.mark.parametrize("url", [
    f"/v1/alerts/{2**64}", f"/v1/alert-rules/{2**70}", "/v1/alerts/0",
    f"/v1/alerts?rule_id={2**64}", f"/v1/alerts?since_id={2**80}", "/v1/alerts?limit=100000",
    "/v1/alerts?customer_id=c%00", "/v1/alerts?status=exploded", f"/v1/silences/{2**64}",
])
def test_hostile_paths_and_queries_are_4xx(client: TestClient, url: str) -> None:
    response = client.get(url, headers=READ)
    assert 400 <= response.status_code < 500 and response.status_code != 404, response.text


def test_a_comment_or_assignee_with_nul_is_refused(client: TestClient) -> None:
    assert _post(client, "/v1/alerts/1/comments", {"body": "a\x00b"}).status_code == 422
    response = client.put("/v1/alerts/1/assignee", content=json.dumps({"assignee": "\x00"}),
                          headers={**WRITE, "content-type": "application/json"})
    assert response.status_code == 422
