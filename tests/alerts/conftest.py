"""Alerts test helpers: the alerts app in process, a stored current risk, and the alerts
worker run until its queue is empty."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from services.alerts.app import create_app
from services.alerts.worker import build_worker
from shared import queue
from shared.db import Database, dialect_insert
from shared.models import WorkItem, utcnow
from shared.models.alerts import Alert
from shared.models.scoring import CustomerRisk
from shared.topics import ALERTS_EVENT, ALERTS_NOTIFY, ALERTS_SCORE_CHANGED
from tests.scoring.conftest import FreshIdentity
from tests.scoring.factories import add_customer, add_events, event

READ = FreshIdentity("alerts:read")
WRITE = FreshIdentity("alerts:read", "alerts:write")


@pytest.fixture
def client(db: Database, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def set_risk(db: Database, customer_id: str, *, pd: float = 0.01, tier: str = "low",
             points: int = 700, features: dict[str, Any] | None = None,
             reasons: list[dict[str, Any]] | None = None) -> None:
    """Store a current risk as the scoring worker would."""
    row = {"customer_id": customer_id, "pd_default": pd, "points": points, "tier": tier,
           "model_version": "scorecard-1", "reasons": reasons or [
               {"feature": "days_past_due", "text": "days past due", "points": -40}],
           "pd_churn": 0.05, "churn_reasons": [], "feature_set": "core",
           "feature_set_version": 1, "features": features or {}, "outstanding_balance": 0,
           "overdue_amount": 0, "credit_limit": 50000, "credit_currency": "EUR",
           "in_default": False, "tier_config_version": 0, "trigger": "tests",
           "scored_at": utcnow()}
    with db.transaction() as session:
        stmt = dialect_insert(session)(CustomerRisk).values(**row)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[CustomerRisk.customer_id],
            set_={k: stmt.excluded[k] for k in row if k != "customer_id"}))


def post_event(db: Database, customer_id: str, event_type: str, **data: Any) -> int:
    """Store an event and enqueue its alerts work, as ingest does; returns its pk."""
    body = event(customer_id, event_type, utcnow(), **data)
    add_events(db, body)
    from shared.models import Event

    with db.transaction() as session:
        pk = session.scalar(select(Event.id).where(Event.event_id == body["id"]))
        assert pk is not None
        queue.enqueue(session, topic=ALERTS_EVENT, key=customer_id,
                      payload={"event_pk": pk, "type": event_type})
    return int(pk)


def score_changed(db: Database, customer_id: str, *, previous_pd: float | None,
                  previous_tier: str | None, pd: float, tier: str) -> None:
    with db.transaction() as session:
        queue.enqueue(session, topic=ALERTS_SCORE_CHANGED, key=customer_id, payload={
            "customer_id": customer_id, "pd": pd, "points": 600, "tier": tier,
            "previous_pd": previous_pd, "previous_tier": previous_tier,
            "model_version": "scorecard-1", "trigger": "event",
            "scored_at": utcnow().isoformat()})


def drain(db: Database, rounds: int = 20) -> int:
    worker = build_worker(db)
    handled = 0
    for _ in range(rounds):
        n = worker.consumer("evaluate").run_once()
        handled += n
        if n == 0:
            break
    return handled


def alerts(db: Database) -> list[Alert]:
    with db.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def notifications(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as session:
        return [row for row in session.scalars(select(WorkItem.payload).where(
            WorkItem.topic == ALERTS_NOTIFY).order_by(WorkItem.id))]


def add_rule_row(db: Database, **fields: Any) -> None:
    from shared.models.alerts import AlertRule

    with db.transaction() as session:
        session.execute(insert(AlertRule), [fields])





def only_rules(db: Database, *rules: dict[str, Any]) -> list[int]:
    """The built-in rules disabled and ``rules`` created (RuleIn bodies): their ids."""
    from sqlalchemy import update

    from services.alerts.rules.schemas import RuleIn
    from services.alerts.rules.service import create_rule, ensure_builtin_rules
    from shared.models.alerts import AlertRule

    ids = []
    with db.transaction() as session:
        ensure_builtin_rules(session)
        session.execute(update(AlertRule).where(AlertRule.builtin_key.is_not(None))
                        .values(enabled=False))
        for body in rules:
            ids.append(create_rule(session, body=RuleIn.model_validate(body),
                                   actor="tests").id)
    return ids


__all__ = ["add_customer"]  # re-exported for the alerts tests
