"""Work that nobody consumes is not enqueued: a topic whose consumer is not built yet
(shared/topics.py) is skipped by its producers and refused by the queue."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.ingest.app import create_app as create_ingest
from shared import queue, topics
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.models.scoring import CustomerRisk
from shared.topics import (
    ALERTS_EVENT,
    ALERTS_SCORE_CHANGED,
    REVIEWS_SCORE_CHANGED,
    SCORING_RESCORE,
    NoConsumer,
)
from tests.conftest import auth_headers
from tests.ingest.factories import invoice
from tests.scoring.conftest import drain
from tests.scoring.factories import add_customer, add_events, days, event

UNCONSUMED: tuple[str, ...] = ()


def _topics(db: Database) -> list[str]:
    with db.sessions() as session:
        return sorted(session.scalars(select(WorkItem.topic)))


def test_every_declared_topic_has_a_consumer() -> None:
    assert [t for t in topics.ROUTES if not topics.has_consumer(t)] == list(UNCONSUMED)


def test_the_queue_refuses_a_topic_nobody_consumes(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every topic has its consumer today; a new one is declared before its worker exists.
    topic = "test.unconsumed"
    monkeypatch.setitem(topics.ROUTES, topic, topics.Route(
        producer="a test", consumer="a worker not built yet", consumed=False))
    with db.transaction() as session:
        with pytest.raises(NoConsumer):
            queue.enqueue(session, topic=topic, key="c1")
        with pytest.raises(NoConsumer):
            queue.enqueue_batch(session, topic=topic, items=[("c1", {})], coalesce=False,
                                now=utcnow())
        with pytest.raises(NoConsumer):
            queue.pg_enqueue_each(topic=topic, source="s", key="k", payload="'{}'",
                                  now=utcnow())
    assert _topics(db) == []


def test_a_stored_event_enqueues_rescoring_and_alerts_work(
        db: Database, database_url: str) -> None:
    headers = {**auth_headers("ingest:write"), "content-type": "application/cloudevents+json"}
    with TestClient(create_ingest(database_url)) as client:
        response = client.post("/v1/events", content=json.dumps(invoice("INV-1", "10.00",
                                                                       "2026-12-01")),
                               headers=headers)
    assert response.status_code == 202, response.text
    assert _topics(db) == [ALERTS_EVENT, SCORING_RESCORE]


def test_a_material_score_move_enqueues_work_for_alerts_and_reviews(db: Database) -> None:
    now = utcnow()
    add_customer(db, "c-1", credit_limit=20000)
    add_events(db, event("c-1", "invoice.issued", now - days(120), invoice_id="i-1",
                         amount="8000.00", currency="EUR",
                         due_date=(now - days(95)).date().isoformat()),
               event("c-1", "credit_rating.updated", now - days(30), agency="a",
                     rating="CCC", score=28))
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key="c-1", coalesce=True)
    assert drain(db) == 1
    with db.sessions() as session:
        risk = session.get(CustomerRisk, "c-1")
    assert risk is not None and risk.tier != "low"  # a move that would be news to both
    assert _topics(db) == [ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED]


@pytest.mark.usefixtures("every_topic_consumed")
def test_flipping_a_topic_to_consumed_makes_its_producers_enqueue_it(
        db: Database, database_url: str) -> None:
    headers = {**auth_headers("ingest:write"), "content-type": "application/cloudevents+json"}
    with TestClient(create_ingest(database_url)) as client:
        client.post("/v1/events", content=json.dumps(invoice("INV-1", "10.00", "2026-12-01")),
                    headers=headers)
    assert _topics(db) == [ALERTS_EVENT, SCORING_RESCORE]
