"""/v1/alert-rules: kinds validated on write (422 naming the field or the expression's
position), versions, built-in rules on a fresh install, scopes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.alerts.rules.builtin import BUILTIN_RULES
from tests.alerts.conftest import READ, WRITE


def _rule(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "DPD over 45", "kind": "threshold",
                            "params": {"indicator": "days_past_due", "operator": ">",
                                       "value": 45},
                            "severity": "critical"}
    body.update(overrides)
    return body


def test_a_fresh_install_has_the_built_in_rules_enabled(client: TestClient) -> None:
    listed = client.get("/v1/alert-rules", headers=READ)
    assert listed.status_code == 200, listed.text
    builtin = [r for r in listed.json()["items"] if r["builtin"]]
    assert len(builtin) == len(BUILTIN_RULES)
    assert all(r["enabled"] for r in builtin)
    kinds = {r["kind"] for r in builtin}
    assert kinds == {"threshold", "change", "anomaly", "event"}


def test_a_rule_is_created_with_defaults_and_versioned_on_change(client: TestClient) -> None:
    created = client.post("/v1/alert-rules", json=_rule(), headers=WRITE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["version"] == 1 and rule["cooldown_seconds"] == 86400
    assert rule["created_by"] == "tests (test-key)"
    changed = client.patch(f"/v1/alert-rules/{rule['id']}", headers=WRITE,
                           json={"params": {"indicator": "days_past_due", "operator": ">",
                                            "value": 50}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["params"]["value"] == 50
    versions = client.get(f"/v1/alert-rules/{rule['id']}/versions", headers=READ).json()
    assert [v["definition"]["params"]["value"] for v in versions] == [45, 50]
    same = client.patch(f"/v1/alert-rules/{rule['id']}", headers=WRITE, json={"enabled": True})
    assert same.json()["version"] == 2  # nothing changed, no new version


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("threshold", {"indicator": "days_past_due", "operator": "~", "value": 4},
     "params.operator"),
    ("threshold", {"indicator": "shoe_size", "operator": ">", "value": 4}, "params"),
    ("threshold", {"indicator": "tier", "operator": ">=", "value": "huge"}, "params.value"),
    ("change", {"change": "pd_up"}, "params"),
    ("anomaly", {"anomaly": "amount_zscore", "k": -1}, "params.k"),
    ("event", {"conditions": []}, "params.event_type"),
    ("threshold", {"indicator": "pd", "operator": ">", "value": 0.1, "extra": 1},
     "params.extra"),
])
def test_invalid_parameters_are_refused_naming_the_field(
        client: TestClient, kind: str, params: dict[str, Any], field: str) -> None:
    response = client.post("/v1/alert-rules", json=_rule(kind=kind, params=params),
                           headers=WRITE)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith(field) for f in fields), fields


def test_a_bad_expression_is_refused_naming_its_position(client: TestClient) -> None:
    response = client.post("/v1/alert-rules", headers=WRITE, json=_rule(
        kind="expression", params={"expression": "risk.pd > 0.1 &&"}))
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "params.expression"
    assert error["line"] == 1 and error["column"] == 17


@pytest.mark.parametrize(("expression", "message"), [
    ("risk.pd > 0.1 && nobody.age > 3", "unknown variable 'nobody'"),
    ('risk.tier + 1 == "high"', "type error"),
    ("risk.pd", "must evaluate to a bool"),
    ("launch_missiles(risk)", "unknown function"),
    ("[1].all(a, [1].all(b, [1].all(c, c > 0)))", "comprehensions nest 3 deep"),
])
def test_an_expression_is_type_checked_on_write(client: TestClient, expression: str,
                                                message: str) -> None:
    response = client.post("/v1/alert-rules", headers=WRITE, json=_rule(
        kind="expression", params={"expression": expression}))
    assert response.status_code == 422, response.text
    assert message in response.json()["errors"][0]["message"]


def test_a_valid_expression_rule_is_stored(client: TestClient) -> None:
    response = client.post("/v1/alert-rules", headers=WRITE, json=_rule(
        name="big order while high", kind="expression",
        params={"expression": 'event.type == "order.placed" && event.amount > 50000.0 '
                              '&& risk.tier == "high"'}))
    assert response.status_code == 201, response.text


def test_names_are_unique_and_deleted_rules_disappear(client: TestClient) -> None:
    first = client.post("/v1/alert-rules", json=_rule(), headers=WRITE).json()
    again = client.post("/v1/alert-rules", json=_rule(), headers=WRITE)
    assert again.status_code == 409
    assert client.delete(f"/v1/alert-rules/{first['id']}", headers=WRITE).status_code == 204
    assert client.get(f"/v1/alert-rules/{first['id']}", headers=READ).status_code == 404
    assert client.post("/v1/alert-rules", json=_rule(), headers=WRITE).status_code == 201


def test_reading_needs_alerts_read_and_writing_alerts_write(client: TestClient) -> None:
    assert client.get("/v1/alert-rules").status_code == 401
    assert client.post("/v1/alert-rules", json=_rule(), headers=READ).status_code == 403
