"""Review policies, versioned like tiers: each change is a new version, the highest in force,
version 0 the built-in defaults (high 30 days, medium 90, low 365; SLA 14 days)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.reviews.policies import repository
from services.reviews.policies.schemas import (
    DEFAULT_CADENCE,
    DEFAULT_SLA_DAYS,
    Cadence,
    ReviewPolicyIn,
    ReviewPolicyOut,
)
from shared import audit
from shared.models import utcnow
from shared.models.reviews import ReviewPolicy

TIER_RANK = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Policy:
    version: int
    cadence_days: dict[str, int]
    sla_days: int
    open_on_worsened_tier: bool

    def cadence_for(self, tier: str | None) -> int:
        # An unscored customer is reviewed as a low-risk one until scoring says otherwise.
        return self.cadence_days.get(tier or "low", self.cadence_days["low"])


DEFAULT_POLICY = Policy(version=0, cadence_days=dict(DEFAULT_CADENCE),
                        sla_days=DEFAULT_SLA_DAYS, open_on_worsened_tier=True)


def worsened(previous: str | None, tier: str) -> bool:
    """True when ``tier`` is riskier than ``previous`` (a first score above low counts)."""
    return TIER_RANK.get(tier, 0) > TIER_RANK.get(previous or "low", 0)


def current_policy(session: Session) -> Policy:
    row = repository.latest(session)
    if row is None:
        return DEFAULT_POLICY
    return Policy(version=row.version, cadence_days=dict(row.cadence_days),
                  sla_days=row.sla_days, open_on_worsened_tier=row.open_on_worsened_tier)


def _out(row: ReviewPolicy | None) -> ReviewPolicyOut:
    if row is None:
        return ReviewPolicyOut(version=0, cadence_days=Cadence(), sla_days=DEFAULT_SLA_DAYS,
                               open_on_worsened_tier=True, comment="built-in defaults",
                               created_by="riskwatch", created_at=None)
    return ReviewPolicyOut(version=row.version, cadence_days=Cadence(**row.cadence_days),
                           sla_days=row.sla_days,
                           open_on_worsened_tier=row.open_on_worsened_tier,
                           comment=row.comment, created_by=row.created_by,
                           created_at=row.created_at)


def get_policy(session: Session) -> ReviewPolicyOut:
    return _out(repository.latest(session))


def history(session: Session, *, limit: int, offset: int) -> list[ReviewPolicyOut]:
    rows = repository.versions(session, limit=limit, offset=offset)
    out = [_out(row) for row in rows]
    if len(rows) < limit:
        out.append(_out(None))
    return out


def put_policy(session: Session, *, policy: ReviewPolicyIn, actor: str) -> ReviewPolicyOut:
    """A new version; reviews already open keep the deadline they were given."""
    row = ReviewPolicy(version=repository.next_version(session),
                       cadence_days=policy.cadence_days.model_dump(), sla_days=policy.sla_days,
                       open_on_worsened_tier=policy.open_on_worsened_tier,
                       comment=policy.comment, created_by=actor, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="review_policy.configured",
                 subject_type="review_policy", subject_id=str(row.version),
                 details={"cadence_days": row.cadence_days, "sla_days": row.sla_days,
                          "open_on_worsened_tier": row.open_on_worsened_tier,
                          "comment": row.comment})
    return _out(row)
