"""The scoring worker and the risk API: scores from stored events, history, idempotency,
score-changed work on material moves, 404s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared import queue
from shared.db import Database
from shared.models import AuditEntry, WorkItem, utcnow
from shared.models.scoring import Score
from shared.topics import ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED, SCORING_RESCORE
from tests.scoring.conftest import READ, drain
from tests.scoring.factories import add_customer, add_events, days, event


def _request_rescore(db: Database, customer_id: str) -> None:
    """What ingest does with every stored event."""
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key=customer_id,
                      payload={"trigger": "event"}, coalesce=True)


def _count(db: Database, model: type, *where: object) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _troubled_customer(db: Database) -> None:
    now = utcnow()
    add_customer(db, "c-1", credit_limit=20000)
    add_events(
        db,
        event("c-1", "invoice.issued", now - days(120), invoice_id="i-1", amount="8000.00",
              currency="EUR", due_date=(now - days(95)).date().isoformat()),
        event("c-1", "invoice.issued", now - days(50), invoice_id="i-2", amount="3000.00",
              currency="EUR", due_date=(now - days(20)).date().isoformat()),
        event("c-1", "credit_rating.updated", now - days(30), agency="a", rating="CCC",
              score=28),
        event("c-1", "complaint.opened", now - days(10), complaint_id="k-1"),
    )


@pytest.mark.usefixtures("every_topic_consumed")
def test_worker_scores_and_risk_api_explains(db: Database, client: TestClient) -> None:
    _troubled_customer(db)
    _request_rescore(db, "c-1")
    assert drain(db) == 1
    body = client.get("/v1/customers/c-1/risk", headers=READ).json()
    assert body["tier"] == "high" and body["model_tier"] == "high"
    assert body["pd_default"] >= 0.10
    assert body["model_version"] == "scorecard-default-v2"
    assert body["feature_set"] == "core" and body["feature_set_version"] == 1
    assert body["reasons"][0]["feature"] == "days_past_due"
    assert "past due" in body["reasons"][0]["text"]
    assert body["strategy"]["approval_level"] == "credit committee"
    assert body["outstanding_balance"] == "11000.00"
    assert body["pd_churn"] is not None and body["features"] is None
    with_features = client.get("/v1/customers/c-1/risk?include=features", headers=READ).json()
    assert with_features["features"]["days_past_due"] >= 95
    history = client.get("/v1/customers/c-1/scores", headers=READ).json()
    assert history["total"] == 2
    assert {item["target"] for item in history["items"]} == {"default", "churn"}
    # A first score in tier high is news for alerts and reviews.
    assert _count(db, WorkItem, WorkItem.topic == ALERTS_SCORE_CHANGED) == 1
    assert _count(db, WorkItem, WorkItem.topic == REVIEWS_SCORE_CHANGED) == 1


@pytest.mark.usefixtures("every_topic_consumed")
def test_redelivery_is_idempotent_and_moves_are_recorded(db: Database,
                                                         client: TestClient) -> None:
    _troubled_customer(db)
    _request_rescore(db, "c-1")
    drain(db)
    _request_rescore(db, "c-1")
    drain(db)
    assert _count(db, Score) == 2
    assert _count(db, WorkItem, WorkItem.topic == ALERTS_SCORE_CHANGED) == 1
    before = client.get("/v1/customers/c-1/risk", headers=READ).json()
    now = utcnow()
    add_events(db,
               event("c-1", "payment.received", now, invoice_id="i-1", amount="8000.00",
                     currency="EUR"),
               event("c-1", "payment.received", now, invoice_id="i-2", amount="3000.00",
                     currency="EUR"),
               event("c-1", "credit_rating.updated", now, agency="a", rating="A", score=80))
    _request_rescore(db, "c-1")
    drain(db)
    after = client.get("/v1/customers/c-1/risk", headers=READ).json()
    assert after["pd_default"] < before["pd_default"]
    assert after["tier"] != "high" and after["outstanding_balance"] == "0.00"
    page = client.get("/v1/customers/c-1/scores?target=default&limit=1", headers=READ).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["pd"] == after["pd_default"]  # newest first
    assert _count(db, WorkItem, WorkItem.topic == ALERTS_SCORE_CHANGED) == 2
    # Each material move is a risk decision in the audit log, with the scores; the
    # redelivery that changed nothing is not.
    with db.transaction() as session:
        audited = session.execute(select(AuditEntry.actor, AuditEntry.action,
                                         AuditEntry.subject_id, AuditEntry.details)
                                  .where(AuditEntry.action.like("risk.%"))
                                  .order_by(AuditEntry.id)).all()
    assert [(actor, action, subject) for actor, action, subject, _ in audited] == [
        ("scoring (event)", "risk.tier_changed", "c-1"),
        ("scoring (event)", "risk.tier_changed", "c-1")]
    first, second = (details for *_, details in audited)
    assert (first["previous_tier"], first["tier"]) == (None, "high")
    assert (second["previous_tier"], second["tier"]) == ("high", after["tier"])
    assert second["pd"] == after["pd_default"] and second["previous_pd"] == before["pd_default"]


def test_unknown_unscored_and_unauthenticated(db: Database, client: TestClient) -> None:
    add_customer(db, "c-2")
    unknown = client.get("/v1/customers/nope/risk", headers=READ)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["code"] == "not-found"
    unscored = client.get("/v1/customers/c-2/risk", headers=READ)
    assert unscored.status_code == 404 and unscored.json()["code"] == "not-scored"
    assert client.get("/v1/customers/nope/scores", headers=READ).status_code == 404
    assert client.get("/v1/customers/c-2/risk").status_code == 401


def test_customer_without_events_scores_with_defaults(db: Database,
                                                      client: TestClient) -> None:
    add_customer(db, "c-3")
    _request_rescore(db, "c-3")
    drain(db)
    body = client.get("/v1/customers/c-3/risk", headers=READ).json()
    assert body["tier"] in ("low", "medium") and body["outstanding_balance"] == "0.00"
