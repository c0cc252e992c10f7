"""Small builders for reviews tests: customers (arrived some days ago) and their stored
current risk, written the way scoring writes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import CustomerRisk
from tests.scoring.factories import add_customer

PD = {"low": 0.01, "medium": 0.05, "high": 0.2}


def customer(db: Database, customer_id: str, *, days_ago: float = 0,
             **fields: Any) -> str:
    return add_customer(db, customer_id, created_at=utcnow() - dt.timedelta(days=days_ago),
                        **fields)


def risk(db: Database, customer_id: str, tier: str, *, overdue: str = "0.00",
         outstanding: str = "1000.00", **fields: Any) -> None:
    row: dict[str, Any] = {
        "customer_id": customer_id, "pd_default": PD[tier], "points": 600, "tier": tier,
        "model_id": None, "model_version": "scorecard-1",
        "reasons": [{"feature": "days_past_due", "value": 12, "points": -20,
                     "text": "12 days past due on the oldest open invoice"}],
        "pd_churn": 0.1, "churn_model_version": "scorecard-1", "churn_reasons": [],
        "feature_set": "core", "feature_set_version": 1,
        "features": {"days_past_due": 12, "overdue_amount": float(overdue), "rating": 55},
        "outstanding_balance": Decimal(outstanding), "overdue_amount": Decimal(overdue),
        "credit_limit": Decimal("50000.00"), "credit_currency": "EUR", "in_default": False,
        "tier_config_version": 0, "trigger": "tests", "scored_at": utcnow()}
    row.update(fields)
    with db.transaction() as session:
        session.execute(insert(CustomerRisk), [row])


def notice(customer_id: str, tier: str, previous: str | None, *,
           scored_at: str | None = None) -> dict[str, Any]:
    """A reviews.score_changed payload as scoring writes it."""
    return {"customer_id": customer_id, "pd": PD[tier], "points": 600, "tier": tier,
            "previous_pd": PD[previous] if previous else None, "previous_tier": previous,
            "model_version": "scorecard-1", "trigger": "event",
            "scored_at": scored_at or utcnow().isoformat()}
