"""POST /v1/events and /v1/events/batch: modes, de-duplication, validation, enqueued work."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.db import Database
from shared.models import Customer, Event, IndustryOutlook, WorkItem
from shared.topics import ALERTS_EVENT, SCORING_RESCORE
from tests.conftest import auth_headers
from tests.ingest.factories import cloudevent, invoice

CE = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None,
         path: str = "/v1/events") -> Any:
    return client.post(path, content=json.dumps(body), headers=headers or CE)


def counts(db: Database) -> tuple[int, int, int]:
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(Event)) or 0,
                s.scalar(select(func.count()).select_from(Customer)) or 0,
                s.scalar(select(func.count()).select_from(WorkItem)) or 0)


@pytest.mark.usefixtures("every_topic_consumed")
def test_structured_event_is_stored_with_typed_columns_and_work(
        client: TestClient, db: Database) -> None:
    event = invoice("INV-1", "1200.50", "2026-12-01")
    response = post(client, event)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["customer_id"] == "cust-1"
    with db.transaction() as s:
        stored = s.scalars(select(Event)).one()
        assert (stored.ref_id, str(stored.amount), stored.currency, str(stored.due_on)) == (
            "INV-1", "1200.50", "EUR", "2026-12-01")
        assert stored.occurred_at.isoformat() == "2026-11-01T10:00:00+00:00"
        assert stored.attributes["specversion"] == "1.0"
        customer = s.get(Customer, "cust-1")
        assert customer is not None and customer.incomplete
        work = {(w.topic, w.key): w.payload for w in s.scalars(select(WorkItem))}
    assert work == {(SCORING_RESCORE, "cust-1"): {"trigger": "event"},
                    (ALERTS_EVENT, "cust-1"): {"event_pk": stored.id, "type": "invoice.issued"}}


@pytest.mark.usefixtures("every_topic_consumed")
def test_replay_is_duplicate_and_stored_once(client: TestClient, db: Database) -> None:
    event = cloudevent()
    assert post(client, event).status_code == 202
    again = post(client, event)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert counts(db)[0] == 1
    with db.transaction() as s:
        alerts = s.scalar(select(func.count()).select_from(WorkItem)
                          .where(WorkItem.topic == ALERTS_EVENT))
    assert alerts == 1


def test_plain_json_and_binary_mode(client: TestClient, db: Database) -> None:
    plain = post(client, cloudevent(), {"content-type": "application/json"})
    assert plain.status_code == 202
    binary = client.post("/v1/events", content=json.dumps(
        {"amount": "10.00", "currency": "USD", "counterparty": "ACME"}), headers={
        "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "b-1",
        "ce-source": "bank", "ce-type": "transaction.completed", "ce-subject": "cust-9",
        "ce-time": "2026-11-02T08:00:00+01:00", "ce-traceparent": "00-abc"})
    assert binary.status_code == 202, binary.text
    with db.transaction() as s:
        stored = s.scalars(select(Event).where(Event.event_id == "b-1")).one()
        assert stored.counterparty == "ACME" and str(stored.amount) == "10.00"
        assert stored.occurred_at.isoformat() == "2026-11-02T07:00:00+00:00"
        assert stored.attributes["traceparent"] == "00-abc"


def test_binary_mode_without_content_type_carries_json_data(
        client: TestClient, db: Database) -> None:
    # What the CloudEvents Python SDK sends when datacontenttype is unset: no Content-Type.
    request = client.build_request("POST", "/v1/events", content=json.dumps(
        {"amount": "10.00", "currency": "USD"}).encode(), headers={
        "ce-specversion": "1.0", "ce-id": "sdk-1", "ce-source": "bank",
        "ce-type": "transaction.completed", "ce-subject": "cust-9"})
    assert "content-type" not in request.headers
    response = client.send(request)
    assert response.status_code == 202, response.text
    with db.transaction() as s:
        stored = s.scalars(select(Event).where(Event.event_id == "sdk-1")).one()
        assert stored.data == {"amount": "10.00", "currency": "USD"}
        assert str(stored.amount) == "10.00"


def test_unknown_type_is_stored_as_is(client: TestClient, db: Database) -> None:
    response = post(client, cloudevent("crm.note.added", data={"text": "called them"}))
    assert response.status_code == 202
    with db.transaction() as s:
        assert s.scalars(select(Event.data)).one() == {"text": "called them"}


def test_alias_resolves_subject(client: TestClient, db: Database) -> None:
    from shared.models import CustomerAlias

    with db.transaction() as s:
        s.add(Customer(customer_id="acme", name="Acme"))
        s.flush()
        s.add(CustomerAlias(source="erp/test", external_id="ERP-77", customer_id="acme"))
    response = post(client, cloudevent(subject="ERP-77"))
    assert response.json()["customer_id"] == "acme"


def test_bad_events_name_the_field_and_store_nothing(client: TestClient, db: Database) -> None:
    cases = [
        ({k: v for k, v in cloudevent().items() if k != "id"}, "id"),
        (cloudevent(specversion="0.3"), "specversion"),
        (cloudevent(time="yesterday"), "time"),
        (cloudevent(time="2026-11-01T10:00:00"), "time"),
        (cloudevent(subject=None), "subject"),
        (cloudevent(id=42), "id"),
        (invoice("INV-1", "12.345", "2026-12-01"), "data.amount"),
        (cloudevent("invoice.issued", data={"invoice_id": "x", "amount": "1",
                                            "currency": "euro", "due_date": "soon"}),
         "data.currency"),
        (cloudevent("credit_rating.updated", data={"agency": "S&P", "rating": "A",
                                                   "score": 140}), "data.score"),
    ]
    for event, field in cases:
        response = post(client, event)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json()["errors"]}, (field, response.json())
    assert counts(db) == (0, 0, 0)


def test_malformed_json_and_wrong_content_types(client: TestClient, db: Database) -> None:
    broken = client.post("/v1/events", content=b'{"id": ', headers=CE)
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["field"] == "body"
    assert "line 1" in broken.json()["errors"][0]["message"]
    latin = client.post("/v1/events", content='{"id": "é"}'.encode("latin-1"), headers=CE)
    assert latin.status_code == 400
    xml = client.post("/v1/events", content=b"<event/>", headers={"content-type": "text/xml"})
    assert xml.status_code == 415
    array = post(client, [cloudevent()])
    assert array.status_code == 415
    assert counts(db) == (0, 0, 0)


def test_batch_mixed_outcomes_is_207(client: TestClient, db: Database) -> None:
    first = cloudevent()
    assert post(client, first).status_code == 202
    good = cloudevent(subject="cust-2")
    bad = cloudevent(type="invoice.issued", data={"amount": "1"})
    response = post(client, [good, first, bad, good], BATCH, "/v1/events/batch")
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 2, 1)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "duplicate", "rejected", "duplicate"]
    fields = {e["field"] for e in body["results"][2]["errors"]}
    assert {"[2].data.invoice_id", "[2].data.currency"} <= fields
    assert counts(db)[0] == 2


def test_batch_status_codes_and_limits(client: TestClient, db: Database) -> None:
    events = [cloudevent(subject=f"c-{i}") for i in range(5)]
    assert post(client, events, {"content-type": "application/json"},
                "/v1/events/batch").status_code == 202
    assert post(client, events, BATCH, "/v1/events/batch").status_code == 200
    all_bad = post(client, [{"id": "x"}], BATCH, "/v1/events/batch")
    assert all_bad.status_code == 422 and all_bad.json()["rejected"] == 1
    too_many = post(client, [cloudevent() for _ in range(1001)], BATCH, "/v1/events/batch")
    assert too_many.status_code == 413
    assert post(client, cloudevent(), BATCH, "/v1/events/batch").status_code == 400
    assert post(client, [], BATCH, "/v1/events/batch").status_code == 422
    assert client.post("/v1/events/batch", content=b"[]",
                       headers={"content-type": "text/csv"}).status_code == 415
    with db.transaction() as s:
        rescore = s.scalar(select(func.count()).select_from(WorkItem)
                           .where(WorkItem.topic == SCORING_RESCORE))
    assert counts(db)[0] == 5 and rescore == 5


@pytest.mark.usefixtures("every_topic_consumed")
def test_batch_coalesces_rescoring_per_customer(client: TestClient, db: Database) -> None:
    events = [cloudevent(subject="same") for _ in range(3)]
    assert post(client, events, BATCH, "/v1/events/batch").status_code == 202
    assert post(client, [cloudevent(subject="same")], BATCH,
                "/v1/events/batch").status_code == 202
    with db.transaction() as s:
        rescore = s.scalars(select(WorkItem).where(WorkItem.topic == SCORING_RESCORE)).all()
        alerts = s.scalar(select(func.count()).select_from(WorkItem)
                          .where(WorkItem.topic == ALERTS_EVENT))
    assert [(w.key, w.payload) for w in rescore] == [("same", {"trigger": "event"})]
    assert alerts == 4
    # A profile change merges into the same pending item, with its own payload.
    assert client.post("/v1/customers", json={"customer_id": "same", "name": "S"}).status_code \
        == 200
    with db.transaction() as s:
        rescore = s.scalars(select(WorkItem).where(WorkItem.topic == SCORING_RESCORE)).all()
    assert [(w.key, w.payload) for w in rescore] == [("same", {"trigger": "profile"})]


def test_industry_outlook_without_subject_goes_to_outlooks(
        client: TestClient, db: Database) -> None:
    event = cloudevent("industry.outlook", subject=None,
                       data={"industry": "retail", "index": -0.4})
    assert post(client, event).status_code == 202
    assert post(client, event).status_code == 200
    with_subject = cloudevent("industry.outlook", data={"industry": "steel", "index": 0.2})
    assert post(client, with_subject).status_code == 202
    with db.transaction() as s:
        outlooks = sorted((o.industry, o.index_value) for o in s.scalars(select(IndustryOutlook)))
    assert outlooks == [("retail", -0.4), ("steel", 0.2)]
    assert counts(db)[0] == 1


def test_a_new_industry_outlook_rescores_that_industrys_customers(
        client: TestClient, db: Database) -> None:
    for customer_id, industry in (("r1", "retail"), ("r2", "retail"), ("e1", "energy")):
        assert client.post("/v1/customers", json={"customer_id": customer_id,
                                                  "industry": industry}).status_code == 201
    with db.transaction() as s:
        s.execute(WorkItem.__table__.delete())
    outlook = cloudevent("industry.outlook", subject=None,
                         data={"industry": "retail", "index": -0.5})
    assert post(client, outlook).status_code == 202
    with db.transaction() as s:
        rescored = s.execute(select(WorkItem.key, WorkItem.payload)
                             .where(WorkItem.topic == SCORING_RESCORE)
                             .order_by(WorkItem.key)).all()
    assert [tuple(r) for r in rescored] == [("r1", {"trigger": "industry_outlook"}),
                                            ("r2", {"trigger": "industry_outlook"})]
    with db.transaction() as s:
        s.execute(WorkItem.__table__.delete())
    assert post(client, outlook).status_code == 200  # a replay moves nothing
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(WorkItem)) == 0


def test_scopes_are_enforced(client: TestClient) -> None:
    no_identity = client.post("/v1/events", content=json.dumps(cloudevent()), headers={
        **CE, "x-riskwatch-principal": "", "x-riskwatch-signature": ""})
    assert no_identity.status_code == 401
    reader = client.post("/v1/events", content=json.dumps(cloudevent()),
                         headers={**CE, **auth_headers("risk:read")})
    assert reader.status_code == 403


def test_event_after_rescore_was_claimed_enqueues_again(client: TestClient, db: Database) -> None:
    from shared.queue import claim

    assert post(client, cloudevent(subject="busy")).status_code == 202
    with db.transaction() as s:
        claimed = claim(s, topics=[SCORING_RESCORE], worker_id="w1")
    assert [c.key for c in claimed] == ["busy"]
    # The running rescore may not see this event: a fresh item must follow it.
    assert post(client, cloudevent(subject="busy")).status_code == 202
    with db.transaction() as s:
        pending = s.scalars(select(WorkItem).where(
            WorkItem.topic == SCORING_RESCORE, WorkItem.locked_by.is_(None))).all()
    assert [w.key for w in pending] == ["busy"]


def test_customer_updated_events_change_the_profile_by_version(client: TestClient) -> None:
    update = cloudevent("customer.updated", subject="crm-1", time="2026-11-10T00:00:00Z",
                        data={"name": "Acme", "industry": "retail", "employees": "many",
                              "colour": "blue"})
    assert post(client, update).status_code == 202
    profile = client.get("/v1/customers/crm-1").json()["customer"]
    # What validates is applied; the bad and the unknown fields are dropped.
    assert (profile["name"], profile["industry"], profile["employees"]) == (
        "Acme", "retail", None)
    assert profile["incomplete"] is False
    older = cloudevent("customer.updated", subject="crm-1", time="2026-11-01T00:00:00Z",
                       data={"name": "Old name"})
    assert post(client, older).status_code == 202
    assert client.get("/v1/customers/crm-1").json()["customer"]["name"] == "Acme"
    history = client.get("/v1/customers/crm-1").json()["history"]
    assert history["event_counts"] == {"customer.updated": 2}
