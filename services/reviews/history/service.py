"""The customer's risk file: a snapshot of PD, points, tier, key features and reasons at
every completed review (with its decision and who took it) and every tier change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from services.reviews.history import repository
from services.reviews.history.schemas import Snapshot, SnapshotPage
from shared import pagination
from shared.errors import NotFound
from shared.models import Customer
from shared.models.scoring import CustomerRisk

# Features every snapshot keeps (besides those the top reasons name): the ones a credit
# committee reads first.
KEY_FEATURES = ("days_past_due", "overdue_amount", "outstanding_balance", "utilization",
                "late_payments_365", "complaints_open", "rating", "order_trend")
MAX_REASONS = 5


def key_features(risk: CustomerRisk | None) -> dict[str, Any]:
    if risk is None:
        return {}
    named = [r.get("feature") for r in (risk.reasons or [])[:MAX_REASONS]]
    wanted = [*KEY_FEATURES, *(n for n in named if isinstance(n, str))]
    features = risk.features or {}
    return {name: features.get(name) for name in dict.fromkeys(wanted) if name in features}


def snapshot_row(*, customer_id: str, cause: str, dedupe_key: str, taken_at: dt.datetime,
                 risk: CustomerRisk | None, tier: str | None, pd: float | None = None,
                 points: int | None = None, previous_tier: str | None = None,
                 review_id: int | None = None, decision: str | None = None,
                 decided_by: str | None = None,
                 details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A snapshot row: PD and points as given (a tier change names the score that moved
    it), else the stored current risk's."""
    return {
        "customer_id": customer_id, "cause": cause, "dedupe_key": dedupe_key,
        "review_id": review_id, "taken_at": taken_at,
        "pd": pd if pd is not None else (risk.pd_default if risk else None),
        "points": points if points is not None else (risk.points if risk else None),
        "tier": tier, "previous_tier": previous_tier,
        "overdue_amount": risk.overdue_amount if risk else None,
        "outstanding_balance": risk.outstanding_balance if risk else None,
        "features": key_features(risk),
        "reasons": list((risk.reasons or [])[:MAX_REASONS]) if risk else [],
        "decision": decision, "decided_by": decided_by, "details": details or {},
    }


def record(session: Session, rows: list[dict[str, Any]]) -> None:
    repository.insert_snapshots(session, rows)


def profile_history(session: Session, *, customer_id: str, cursor: str | None,
                    limit: int) -> SnapshotPage:
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"No customer {customer_id!r}.")
    before = pagination.decode(cursor, types=(int,))[0] if cursor else None
    rows = repository.page(session, customer_id=customer_id, before_id=before,
                           limit=limit + 1)
    items = [Snapshot.model_validate(row, from_attributes=True) for row in rows[:limit]]
    next_cursor = pagination.encode(items[-1].id) if len(rows) > limit else None
    return SnapshotPage(items=items, next_cursor=next_cursor)
