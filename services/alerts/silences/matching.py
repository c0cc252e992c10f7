"""Which silence (if any) covers an alert: every matcher a silence sets must match."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models.alerts import Silence


@dataclass(frozen=True)
class ActiveSilence:
    id: int
    rule_id: int | None
    customer_id: str | None
    tier: str | None
    severity: str | None

    def covers(self, *, rule_id: int, customer_id: str, tier: str | None,
               severity: str) -> bool:
        return ((self.rule_id is None or self.rule_id == rule_id)
                and (self.customer_id is None or self.customer_id == customer_id)
                and (self.tier is None or self.tier == tier)
                and (self.severity is None or self.severity == severity))


def in_force(session: Session, now: dt.datetime) -> list[ActiveSilence]:
    """Silences applying at ``now``: started, not ended, not expired early."""
    rows = session.execute(select(
        Silence.id, Silence.rule_id, Silence.customer_id, Silence.tier, Silence.severity,
    ).where(Silence.starts_at <= now, Silence.ends_at > now,
            Silence.expired_early_at.is_(None)).order_by(Silence.id)).all()
    return [ActiveSilence(*row) for row in rows]


def covering(silences: list[ActiveSilence], *, rule_id: int, customer_id: str,
             tier: str | None, severity: str) -> int | None:
    for silence in silences:
        if silence.covers(rule_id=rule_id, customer_id=customer_id, tier=tier,
                          severity=severity):
            return silence.id
    return None
