"""Customer profiles: versioned upserts, aliases, the background check, Idempotency-Key."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.ingest.idempotency.repository import try_lock
from shared.db import Database
from shared.models import Customer, CustomerAlias, WorkItem
from shared.topics import SCORING_RESCORE
from tests.conftest import auth_headers
from tests.ingest.factories import cloudevent, invoice, payment

CE = {"content-type": "application/cloudevents+json"}


def profile(**fields: Any) -> dict[str, Any]:
    return {"customer_id": "cust-1", "name": "Acme", "industry": "retail", "country": "DE",
            "credit_limit": "50000.00", "credit_currency": "EUR",
            "updated_at": "2026-11-20T08:00:00Z", **fields}


def test_create_then_update_then_stale(client: TestClient, db: Database) -> None:
    created = client.post("/v1/customers", json=profile())
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "created"
    newer = client.post("/v1/customers", json=profile(name="Acme AG", employees=40,
                                                      updated_at="2026-11-21T08:00:00Z"))
    assert newer.json()["status"] == "updated"
    older = client.post("/v1/customers", json=profile(name="Old name",
                                                      updated_at="2026-11-19T08:00:00Z"))
    assert older.status_code == 200
    assert older.json() == {"customer_id": "cust-1", "status": "stale",
                            "updated_at": "2026-11-21T08:00:00Z"}
    same = client.post("/v1/customers", json=profile(name="Acme AG", employees=40,
                                                     updated_at="2026-11-21T08:00:00Z"))
    assert same.json()["status"] == "unchanged"
    body = client.get("/v1/customers/cust-1").json()["customer"]
    assert (body["name"], body["employees"], body["country"]) == ("Acme AG", 40, "DE")
    with db.transaction() as s:
        rescore = s.scalars(select(WorkItem).where(WorkItem.topic == SCORING_RESCORE)).all()
    assert [(w.key, w.payload) for w in rescore] == [("cust-1", {"trigger": "profile"})]


def test_event_first_then_profile_completes_customer(client: TestClient) -> None:
    assert client.post("/v1/events", content=json.dumps(cloudevent(subject="early")),
                       headers=CE).status_code == 202
    minimal = client.get("/v1/customers/early").json()["customer"]
    assert minimal["incomplete"] is True and minimal["name"] is None
    # Even a profile version older than the event applies: the minimal record has none.
    upsert = client.post("/v1/customers", json=profile(customer_id="early",
                                                       updated_at="2001-01-01T00:00:00Z"))
    assert upsert.json()["status"] == "updated"
    complete = client.get("/v1/customers/early").json()["customer"]
    assert complete["incomplete"] is False and complete["name"] == "Acme"


def test_aliases_resolve_events(client: TestClient, db: Database) -> None:
    client.post("/v1/customers", json=profile(
        aliases=[{"source": "erp/test", "external_id": "K-100"}]))
    response = client.post("/v1/events", content=json.dumps(cloudevent(subject="K-100")),
                           headers=CE)
    assert response.json()["customer_id"] == "cust-1"
    body = client.get("/v1/customers/cust-1").json()
    assert body["customer"]["aliases"] == [{"source": "erp/test", "external_id": "K-100"}]
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
        assert s.scalar(select(func.count()).select_from(CustomerAlias)) == 1


def test_background_check_summarises_history(client: TestClient) -> None:
    events = [
        invoice("INV-1", "1000.00", "2020-01-31"),  # overdue, part paid
        payment("INV-1", "400.00"),
        invoice("INV-2", "500.00", "2999-12-31"),  # open, not due
        invoice("INV-3", "300.00", "2020-01-31"),  # fully paid
        payment("INV-3", "300.00"),
        cloudevent("complaint.opened", data={"complaint_id": "C-1"},
                   time="2026-11-05T12:00:00Z", id="last-one"),
    ]
    assert client.post("/v1/events/batch", json=events).status_code == 202
    history = client.get("/v1/customers/cust-1").json()["history"]
    assert history["event_counts"] == {"complaint.opened": 1, "invoice.issued": 3,
                                       "payment.received": 2}
    assert history["total_events"] == 6
    assert history["last_event"]["id"] == "last-one"
    assert [(i["invoice_id"], i["open_amount"]) for i in history["open_invoices"]] == [
        ("INV-1", "600.00"), ("INV-2", "500.00")]
    assert history["open_amount"] == {"EUR": "1100.00"}
    assert history["overdue_amount"] == {"EUR": "600.00"}


def test_batch_upsert_and_limits(client: TestClient, db: Database) -> None:
    batch = {"customers": [profile(customer_id=f"c{i}") for i in range(3)]}
    response = client.post("/v1/customers/batch", json=batch)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["unchanged"]) == (3, 0)
    again = client.post("/v1/customers/batch", json=batch).json()
    assert again["unchanged"] == 3
    too_many = client.post("/v1/customers/batch", json={
        "customers": [profile(customer_id=f"x{i}") for i in range(1001)]})
    assert too_many.status_code == 413
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 3


def test_bad_profiles_name_the_field_and_store_nothing(client: TestClient, db: Database) -> None:
    cases = [
        (profile(country="Germany"), "country"),
        (profile(employees="many"), "employees"),
        (profile(credit_limit="-5", credit_currency="EUR"), "credit_limit"),
        (profile(updated_at="2026-11-20T08:00:00"), "updated_at"),
        ({"name": "no id"}, "customer_id"),
        (profile(colour="blue"), "colour"),
    ]
    for body, field in cases:
        response = client.post("/v1/customers", json=body)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    bad_batch = client.post("/v1/customers/batch", json={
        "customers": [profile(customer_id="ok"), profile(customer_id="bad", country="x")]})
    assert bad_batch.status_code == 422
    assert "customers.1.country" in {e["field"] for e in bad_batch.json()["errors"]}
    malformed = client.post("/v1/customers", content=b'{"customer_id": ',
                            headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_unknown_customer_is_404_and_reads_need_scope(client: TestClient) -> None:
    missing = client.get("/v1/customers/nobody")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    writer_only = client.get("/v1/customers/nobody", headers=auth_headers("ingest:write"))
    assert writer_only.status_code == 403


def test_idempotency_key_replays_and_refuses_other_bodies(
        client: TestClient, db: Database) -> None:
    key = {"Idempotency-Key": "k-123"}
    first = client.post("/v1/customers", json=profile(), headers=key)
    assert first.status_code == 201
    # Changed meanwhile by someone else: the retry must still get the first answer.
    client.post("/v1/customers", json=profile(name="Other", updated_at="2026-11-22T00:00:00Z"))
    replay = client.post("/v1/customers", json=profile(), headers=key)
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    different = client.post("/v1/customers", json=profile(name="Changed"), headers=key)
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "Idempotency-Key"
    # Another caller has its own key space.
    other = client.post("/v1/customers", json=profile(customer_id="c2"),
                        headers={**key, **auth_headers("ingest:write", key_id="other")})
    assert other.status_code == 201


def test_failed_request_frees_its_idempotency_key(client: TestClient) -> None:
    key = {"Idempotency-Key": "k-fail"}
    too_many = {"customers": [profile(customer_id=f"x{i}") for i in range(1001)]}
    assert client.post("/v1/customers/batch", json=too_many, headers=key).status_code == 413
    ok = client.post("/v1/customers/batch", json={"customers": [profile()]}, headers=key)
    assert ok.status_code == 200


def test_idempotency_key_in_flight_is_409(client: TestClient, db: Database,
                                          engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: a retry waits, then replays")
    holding, release = threading.Event(), threading.Event()

    def first_request_running() -> None:
        with db.transaction() as s:
            assert try_lock(s, "test-key", "k-busy")
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=first_request_running)
    thread.start()
    try:
        assert holding.wait(10)
        busy = client.post("/v1/customers", json=profile(), headers={"Idempotency-Key": "k-busy"})
        assert busy.status_code == 409
    finally:
        release.set()
        thread.join()
    assert client.post("/v1/customers", json=profile(),
                       headers={"Idempotency-Key": "k-busy"}).status_code == 201
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customer")).scalar() == 1


def test_idempotency_keys_expire(client: TestClient, db: Database) -> None:
    from shared.models.ingest import IdempotencyKey

    key = {"Idempotency-Key": "k-old"}
    assert client.post("/v1/customers", json=profile(), headers=key).status_code == 201
    with db.transaction() as s:
        stored = s.get(IdempotencyKey, ("test-key", "k-old"))
        assert stored is not None
        stored.created_at = stored.created_at - dt.timedelta(days=2)
    # Past the retention the key is free again: another body runs instead of a 422.
    again = client.post("/v1/customers", json=profile(customer_id="c-new"), headers=key)
    assert again.status_code == 201 and again.json()["customer_id"] == "c-new"
