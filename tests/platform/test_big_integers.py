"""Integers beyond 64 bits in paths and queries are a 422 naming the parameter, on every
service, never a 500 from the database driver."""

from __future__ import annotations

import pytest

from tests.stack import Stack

HUGE = str(2**70)


@pytest.mark.parametrize(("method", "path", "field"), [
    ("GET", f"/v1/models/{HUGE}", "model_id"),
    ("POST", f"/v1/models/{HUGE}/promote", "model_id"),
    ("GET", f"/v1/models/{HUGE}/drift", "model_id"),
    ("GET", f"/v1/models/jobs/{HUGE}", "job_id"),
    ("GET", f"/v1/models?offset={HUGE}", "offset"),
    ("GET", f"/v1/scoring/jobs?offset={HUGE}", "offset"),
    ("GET", f"/v1/tiers/versions?offset={HUGE}", "offset"),
    ("GET", f"/v1/customers/c-1/scores?offset={HUGE}", "offset"),
    ("POST", f"/v1/queue/dead-letters/{HUGE}/retry", "item_id"),
    ("GET", f"/v1/queue/dead-letters?offset={HUGE}", "offset"),
])
def test_an_integer_beyond_64_bits_is_a_422_naming_the_parameter(
        live: Stack, method: str, path: str, field: str) -> None:
    with live.client() as client:
        response = client.request(method, path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]
