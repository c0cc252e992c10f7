"""Review policies: built-in defaults, new versions kept, scopes and validation enforced."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.reviews.conftest import READ, WRITE

POLICY = {"cadence_days": {"low": 180, "medium": 60, "high": 14}, "sla_days": 7,
          "open_on_worsened_tier": False, "comment": "tighter"}


def test_the_default_policy_reviews_high_monthly_medium_quarterly_low_yearly(
        client: TestClient) -> None:
    body = client.get("/v1/review-policies", headers=READ).json()
    assert body["version"] == 0
    assert body["cadence_days"] == {"low": 365, "medium": 90, "high": 30}
    assert body["open_on_worsened_tier"] is True


def test_a_new_policy_is_a_new_version_and_earlier_ones_are_kept(client: TestClient) -> None:
    first = client.put("/v1/review-policies", json=POLICY, headers=WRITE)
    assert first.status_code == 200, first.text
    second = client.put("/v1/review-policies", json={**POLICY, "sla_days": 10}, headers=WRITE)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    current = client.get("/v1/review-policies", headers=READ).json()
    assert current["sla_days"] == 10 and current["created_by"].startswith("tests")
    versions = client.get("/v1/review-policies/versions", headers=READ).json()
    assert [v["version"] for v in versions] == [2, 1, 0]


def test_changing_the_policy_needs_the_write_scope(client: TestClient) -> None:
    assert client.put("/v1/review-policies", json=POLICY, headers=READ).status_code == 403
    assert client.get("/v1/review-policies").status_code == 401


def test_a_policy_that_reviews_riskier_customers_less_often_is_refused(
        client: TestClient) -> None:
    bad = {**POLICY, "cadence_days": {"low": 30, "medium": 90, "high": 365}}
    response = client.put("/v1/review-policies", json=bad, headers=WRITE)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_hostile_policy_input_is_a_4xx(client: TestClient) -> None:
    for body in ({**POLICY, "sla_days": 10**30}, {**POLICY, "comment": "a\x00b"},
                 {**POLICY, "cadence_days": {"low": 0}}, {**POLICY, "sla_days": "NaN"}, [1]):
        assert client.put("/v1/review-policies", json=body, headers=WRITE).status_code == 422
    assert client.get("/v1/review-policies/versions?offset=99999999999999999999",
                      headers=READ).status_code == 422
