"""Tiers (versioned thresholds, strategies, overrides with expiry) and credit decisions."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import select

from services.scoring.tiers.schemas import DEFAULT_STRATEGIES
from shared import queue
from shared.audit import content_of
from shared.db import Database
from shared.models import AuditEntry, utcnow
from shared.models.scoring import TierOverride
from shared.topics import SCORING_RESCORE
from tests.conftest import auth_headers
from tests.held_writes import transactions_of, wait_until_blocked, writes_held
from tests.scoring.conftest import READ, WRITE, drain
from tests.scoring.factories import add_customer, add_events, days, event


def _scored(db: Database, customer_id: str, *, overdue_days: int = 0, amount: str = "0",
            credit_limit: int = 20000, rating: float = 75) -> None:
    now = utcnow()
    add_customer(db, customer_id, credit_limit=credit_limit)
    events = [event(customer_id, "credit_rating.updated", now - days(30), agency="a",
                    rating="A", score=rating)]
    if amount != "0":
        events.append(event(customer_id, "invoice.issued", now - days(overdue_days + 30),
                            invoice_id=f"{customer_id}-i", amount=amount, currency="EUR",
                            due_date=(now - days(overdue_days)).date().isoformat()))
    add_events(db, *events)
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key=customer_id, coalesce=True)
    drain(db)


def _config(medium: float, high: float) -> dict[str, Any]:
    return {"thresholds": {"medium": medium, "high": high},
            "strategies": {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()},
            "comment": "test"}


def test_tier_config_defaults_versions_and_validation(db: Database, client: TestClient) -> None:
    current = client.get("/v1/tiers", headers=READ).json()
    assert current["version"] == 0
    assert current["thresholds"] == {"medium": 0.02, "high": 0.10}
    assert current["strategies"]["high"]["approval_level"] == "credit committee"
    assert client.put("/v1/tiers", json=_config(0.03, 0.2), headers=READ).status_code == 403
    first = client.put("/v1/tiers", json=_config(0.03, 0.2), headers=WRITE).json()
    second = client.put("/v1/tiers", json=_config(0.01, 0.05), headers=WRITE).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert client.get("/v1/tiers", headers=READ).json()["thresholds"]["high"] == 0.05
    versions = client.get("/v1/tiers/versions", headers=READ).json()
    assert [v["version"] for v in versions] == [2, 1, 0]
    bad = client.put("/v1/tiers", json=_config(0.2, 0.1), headers=WRITE)
    assert bad.status_code == 422
    missing = _config(0.02, 0.1)
    del missing["strategies"]["high"]
    assert client.put("/v1/tiers", json=missing, headers=WRITE).status_code == 422


def test_thresholds_apply_to_stored_risk_at_read_time(db: Database, client: TestClient) -> None:
    _scored(db, "c-1")
    pd = client.get("/v1/customers/c-1/risk", headers=READ).json()["pd_default"]
    client.put("/v1/tiers", json=_config(pd / 4, pd / 2), headers=WRITE)
    body = client.get("/v1/customers/c-1/risk", headers=READ).json()
    assert body["tier"] == "high" and body["tier_config_version"] == 1


def test_a_risk_read_and_a_decision_query_only_what_they_must(db: Database,
                                                               client: TestClient) -> None:
    """A risk read is one statement and a decision two (the read and its audit entry), each
    on the hot path (shared/hotpath.py), which bypasses the engine's events; the tier policy
    is this process's copy while its version is current. So nothing at all reaches the
    engine, where a policy read or a session would show."""
    _scored(db, "c-1")
    assert client.get("/v1/customers/c-1/risk", headers=READ).status_code == 200  # policy read
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/v1/customers/c-1/risk", headers=READ).status_code == 200
        decision = client.post("/v1/decisions/credit", headers=READ, json={
            "customer_id": "c-1", "amount": "100.00", "currency": "EUR"}).json()
        assert decision["decision"] == "approve"
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    assert statements == []
    with db.read() as session:  # and the decision's entry was kept
        entry = session.get(AuditEntry, decision["decision_id"])
        assert entry is not None and entry.action == "credit.decided"


def test_override_is_honoured_until_it_expires_or_is_lifted(db: Database,
                                                           client: TestClient) -> None:
    _scored(db, "c-1")
    assert client.get("/v1/customers/c-1/risk", headers=READ).json()["tier"] == "low"
    expires = (utcnow() + days(30)).isoformat()
    created = client.put("/v1/tiers/overrides/c-1", headers=WRITE, json={
        "tier": "high", "reason": "review: lost main customer", "expires_at": expires})
    assert created.status_code == 201 and created.json()["in_force"] is True
    body = client.get("/v1/customers/c-1/risk", headers=READ).json()
    assert (body["tier"], body["model_tier"]) == ("high", "low")
    assert body["override"]["reason"] == "review: lost main customer"
    decision = client.post("/v1/decisions/credit", headers=READ, json={
        "customer_id": "c-1", "amount": "100.00", "currency": "EUR"}).json()
    assert decision["decision"] == "refer" and decision["tier"] == "high"
    # Expired: back to the model's tier.
    with db.transaction() as session:
        row = session.scalars(select(TierOverride)).one()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert client.get("/v1/customers/c-1/risk", headers=READ).json()["tier"] == "low"
    client.put("/v1/tiers/overrides/c-1", headers=WRITE, json={
        "tier": "medium", "reason": "watch list", "expires_at": expires})
    assert client.get("/v1/customers/c-1/risk", headers=READ).json()["tier"] == "medium"
    assert client.delete("/v1/tiers/overrides/c-1", headers=WRITE).status_code == 204
    assert client.get("/v1/customers/c-1/risk", headers=READ).json()["tier"] == "low"
    assert client.delete("/v1/tiers/overrides/c-1", headers=WRITE).status_code == 404
    listed = client.get("/v1/tiers/overrides/c-1", headers=READ).json()
    assert len(listed) == 2 and not any(o["in_force"] for o in listed)
    assert client.put("/v1/tiers/overrides/nope", headers=WRITE, json={
        "tier": "high", "reason": "x" * 5, "expires_at": expires}).status_code == 404
    past = client.put("/v1/tiers/overrides/c-1", headers=WRITE, json={
        "tier": "high", "reason": "too late", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422


def _decide(client: TestClient, customer_id: str, amount: str,
            currency: str = "EUR") -> dict[str, Any]:
    response = client.post("/v1/decisions/credit", headers=READ, json={
        "customer_id": customer_id, "amount": amount, "currency": currency})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_credit_decisions_follow_tier_strategy_and_are_audited(db: Database,
                                                               client: TestClient) -> None:
    _scored(db, "good", amount="4000.00", overdue_days=-10)  # open but not yet due
    approve = _decide(client, "good", "15000.00")
    assert approve["decision"] == "approve" and approve["tier"] == "low"
    # 20,000 x 1.0 (tier low) - 4,000 outstanding.
    assert approve["available_limit"] == "16000.00"
    refer = _decide(client, "good", "16000.01")
    assert refer["decision"] == "refer" and "exceeds the available limit" in refer["reasons"][0]
    assert _decide(client, "good", "100.00", currency="USD")["decision"] == "refer"

    _scored(db, "bad", amount="9000.00", overdue_days=100, rating=20)
    high = _decide(client, "bad", "10.00")
    assert high["tier"] == "high" and high["decision"] == "refer"
    # 20,000 x 0.25 - 9,000 -> nothing left.
    assert high["available_limit"] == "0.00"
    assert any("past due" in r for r in high["reasons"])

    add_events(db, event("bad", "customer.defaulted", utcnow()))
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key="bad", coalesce=True)
    drain(db)
    declined = _decide(client, "bad", "10.00")
    assert declined["decision"] == "decline" and declined["pd"] == 1.0

    strategies = {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()}
    strategies["low"]["new_credit_blocked"] = True
    client.put("/v1/tiers", headers=WRITE, json={
        "thresholds": {"medium": 0.02, "high": 0.1}, "strategies": strategies})
    assert _decide(client, "good", "1.00")["decision"] == "decline"

    with db.transaction() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "credit.decided")).all()
        assert len(entries) == 6
        assert entries[0].details["decision"] == "approve"
        assert entries[0].details["amount"] == "15000.00"
        assert all(content_of(e) == e.content for e in entries)  # sealed as they read
    assert approve["decision_id"] == entries[0].id


def test_decisions_made_together_share_a_commit_and_each_names_its_own_entry(
        db: Database, client: TestClient, engine_name: str, database_url: str) -> None:
    _scored(db, "good", amount="4000.00", overdue_days=-10)
    amounts = [f"{100 + i}.00" for i in range(12)]
    with ThreadPoolExecutor(14) as pool:
        with writes_held(db, engine_name, database_url, table="audit_entry"):
            held = pool.submit(_decide, client, "good", "1.00")
            wait_until_blocked(db, engine_name)
            together = {amount: pool.submit(_decide, client, "good", amount)
                        for amount in amounts}
            time.sleep(0.5)  # all of them queued behind the held entry
        answers = {amount: future.result(timeout=30) for amount, future in together.items()}
        assert held.result(timeout=30)["decision"] == "approve"
    with db.transaction() as session:
        by_id = {e.id: e for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "credit.decided"))}
    assert len(by_id) == 1 + len(amounts)
    for amount, answer in answers.items():
        assert answer["amount"] == amount and answer["decision"] == "approve"
        assert by_id[answer["decision_id"]].details["amount"] == amount
    if engine_name == "postgresql":
        ids = sorted(answer["decision_id"] for answer in answers.values())
        # The app lets four audit writes run at once: three more started behind the held
        # one, each with what had queued; the rest waited and went in one more.
        assert transactions_of(db, table="audit_entry", where="id = ANY(:ids)", ids=ids) <= 4


def test_unknown_customer_and_unscored_customer(db: Database, client: TestClient) -> None:
    unknown = client.post("/v1/decisions/credit", headers=READ, json={
        "customer_id": "ghost", "amount": "1.00", "currency": "EUR"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    add_customer(db, "new")
    assert _decide(client, "new", "1.00")["decision"] == "refer"
    invalid = client.post("/v1/decisions/credit", headers=READ, json={
        "customer_id": "new", "amount": "-5", "currency": "euro"})
    assert invalid.status_code == 422
    none = client.post("/v1/decisions/credit", headers=auth_headers("alerts:read"), json={
        "customer_id": "new", "amount": "1.00", "currency": "EUR"})
    assert none.status_code == 403
