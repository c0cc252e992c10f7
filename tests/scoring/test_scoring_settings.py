"""Scoring reads its limits from RISKWATCH_SCORING_* settings, and audits callers by key."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.db import Database
from shared.models import AuditEntry
from tests.scoring.conftest import READ, WRITE
from tests.scoring.factories import add_customer


def test_a_training_csv_above_the_configured_upload_cap_is_refused(
        db: Database, client: TestClient, scoring_setting: Callable[[str, str], None]) -> None:
    scoring_setting("max_training_upload_bytes", "100")
    csv = "outcome,x\n" + "0,1\n" * 50
    answer = client.post("/v1/models/train-from-file", headers=WRITE,
                         files={"file": ("big.csv", csv.encode(), "text/csv")},
                         data={"outcome": "outcome"})
    assert answer.status_code == 400
    assert "larger than" in answer.json()["detail"]


def test_a_credit_decision_is_audited_under_the_callers_key_name_and_id(
        db: Database, client: TestClient) -> None:
    add_customer(db, "c-audit")
    answer = client.post("/v1/decisions/credit", headers=READ, json={
        "customer_id": "c-audit", "amount": "10.00", "currency": "EUR"})
    assert answer.status_code == 200
    with db.transaction() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "credit.decided")).one()
    assert entry.actor == "tests (test-key)"
