"""Hostile input on the ingest routes: text the database cannot hold, JSON nested too deep,
NaN, numbers and names beyond their columns. Each is a 4xx problem naming the field, and
stores nothing (in a batch: nothing of the offending event)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.db import Database
from shared.models import Customer, Event
from tests.conftest import auth_headers
from tests.ingest.factories import cloudevent


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def assert_problem(response, status: int, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert any(f.startswith(field) for f in fields), fields


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_a_batch_event_with_unstorable_text_is_rejected_alone(
        client: TestClient, db: Database, bad: str) -> None:
    events = [cloudevent(), cloudevent(data={"order_id": f"o{bad}", "amount": "1.00",
                                             "currency": "EUR"}),
              cloudevent(subject="c-2", **{f"ext{bad}": "x"}), cloudevent(subject="c-3")]
    body = json.dumps(events)  # ensure_ascii: NUL and surrogates travel as \u escapes
    response = client.post("/v1/events/batch", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 207, response.text
    outcomes = response.json()["results"]
    assert [o["status"] for o in outcomes] == ["accepted", "rejected", "rejected", "accepted"]
    assert outcomes[1]["errors"][0]["field"] == "[1].data.order_id"
    assert outcomes[2]["errors"][0]["field"].startswith("[2].ext")
    assert count(db, Event) == 2


def test_a_single_event_with_nul_in_its_id_is_422(client: TestClient, db: Database) -> None:
    response = client.post("/v1/events", json=cloudevent(id="evt\x00"))
    assert_problem(response, 422, "id")
    assert count(db, Event) == 0


def test_free_form_data_nested_past_32_levels_is_rejected_per_event(
        client: TestClient, db: Database) -> None:
    ok = cloudevent("crm.note", data=nested(32))
    deep = cloudevent("crm.note", data=nested(33))
    response = client.post("/v1/events/batch", json=[ok, deep])
    assert response.status_code == 207, response.text
    assert response.json()["results"][1]["errors"][0]["message"] == \
        "nests deeper than 32 levels"
    assert count(db, Event) == 1


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch", "/v1/customers",
                                  "/v1/webhooks/zoho-crm"])
def test_json_nested_beyond_what_a_parser_survives_is_400(
        client: TestClient, db: Database, path: str) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert_problem(response, 400, "body")
    unbalanced = '{"a": ' + "[" * 100_000
    response = client.post(path, content=unbalanced,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


def test_zoho_notification_nested_deep_without_content_type_is_400(client: TestClient) -> None:
    # The Zoho route parses its body whatever the Content-Type says.
    response = client.post("/v1/webhooks/zoho-crm", content="[" * 50_000 + "]" * 50_000,
                           headers={"content-type": "text/plain"})
    assert_problem(response, 400, "body")


def test_nan_and_infinity_are_not_json(client: TestClient, db: Database) -> None:
    body = json.dumps([cloudevent("crm.note", data={"x": float("nan")})])
    response = client.post("/v1/events/batch", content=body,
                           headers={"content-type": "application/json"})
    assert_problem(response, 400, "body")
    profile = {"customer_id": "c-nan", "attributes": {"x": float("inf")}}
    response = client.post("/v1/customers", content=json.dumps(profile),
                           headers={"content-type": "application/json"})
    assert_problem(response, 422, "attributes.x")
    assert count(db, Event) + count(db, Customer) == 0


@pytest.mark.parametrize("profile,field", [
    ({"customer_id": "c-1", "name": "Acme\x00"}, "name"),
    ({"customer_id": "c\x00"}, "customer_id"),
    ({"customer_id": "c-1", "attributes": {"k": ["ok", "bad\x00"]}}, "attributes.k.1"),
    ({"customer_id": "c-1", "attributes": {"k\x00": 1}}, "attributes"),
    ({"customer_id": "c-1", "registration_ids": {"vat": "\ud800"}}, "registration_ids.vat"),
    ({"customer_id": "c-1", "aliases": [{"source": "crm", "external_id": "x\x00"}]},
     "aliases.0.external_id"),
    ({"customer_id": "c-1", "attributes": nested(33)}, "attributes"),
    ({"customer_id": "c-1", "employees": 2**40}, "employees"),
])
def test_a_profile_that_cannot_be_stored_is_422_naming_the_field(
        client: TestClient, db: Database, profile: dict, field: str) -> None:
    response = client.post("/v1/customers", content=json.dumps(profile),
                           headers={"content-type": "application/json"})
    assert_problem(response, 422, field)
    assert count(db, Customer) == 0


def test_nul_in_a_path_or_query_parameter_is_422(client: TestClient) -> None:
    assert_problem(client.get("/v1/customers/c%00x"), 422, "path")
    response = client.post("/v1/webhooks/salesforce?token=a%00b", content=b"<x/>")
    assert_problem(response, 422, "query.token")


def test_a_webhook_source_name_longer_than_its_column_is_422(
        client: TestClient, db: Database) -> None:
    response = client.put(f"/v1/webhook-sources/zoho-crm/{'n' * 300}",
                          json={"secrets": ["a-token-of-sixteen-chars"]},
                          headers=auth_headers("admin"))
    assert_problem(response, 422, "name")
    response = client.put("/v1/webhook-sources/zoho-crm/chan",
                          json={"secrets": ["a-token-of-sixteen\x00chars"]},
                          headers=auth_headers("admin"))
    assert_problem(response, 422, "secrets.0")


@pytest.mark.parametrize("customer_id", ["a/b", "..", ".", "back\\slash", "tab\there"])
def test_a_customer_id_that_cannot_round_trip_in_a_url_is_refused_at_write_time(
        client: TestClient, db: Database, customer_id: str) -> None:
    profile = client.post("/v1/customers", json={"customer_id": customer_id, "name": "x"})
    assert_problem(profile, 422, "customer_id")
    event = client.post("/v1/events", json=cloudevent(subject=customer_id))
    assert_problem(event, 422, "subject")
    batch = client.post("/v1/events/batch", json=[cloudevent(subject=customer_id),
                                                  cloudevent(subject="ok-1")])
    assert batch.status_code == 207, batch.text
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "accepted"]
    assert count(db, Customer) == 1


def test_a_webhook_source_name_of_the_longest_allowed_length_is_stored_and_audited(
        client: TestClient, db: Database) -> None:
    response = client.put(f"/v1/webhook-sources/salesforce/{'n' * 255}",
                          json={"secrets": ["a-token-of-sixteen-chars"]},
                          headers=auth_headers("admin"))
    assert response.status_code == 201, response.text
