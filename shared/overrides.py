"""Writing an analyst's tier override: the one mechanism scoring honours (risk API, credit
decisions) and every writer uses: scoring's `/v1/tiers/overrides` and review decisions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from shared import audit
from shared.errors import NotFound, ValidationFailed
from shared.models import Customer, utcnow
from shared.models.scoring import TierOverride


def set_tier_override(session: Session, *, customer_id: str, tier: str, reason: str,
                      expires_at: dt.datetime, actor: str,
                      now: dt.datetime | None = None) -> TierOverride:
    """Store an override in force until ``expires_at`` (the newest one wins) and audit it."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"No customer {customer_id!r}.")
    now = now or utcnow()
    if expires_at <= now:
        raise ValidationFailed("expires_at must be in the future.")
    row = TierOverride(customer_id=customer_id, tier=tier, reason=reason,
                       expires_at=expires_at, created_by=actor, created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="tiers.override_set", subject_type="customer",
                 subject_id=customer_id,
                 details={"tier": row.tier, "reason": row.reason,
                          "expires_at": row.expires_at.isoformat(), "override_id": row.id})
    return row
