"""Tiers: which tier a PD falls in under the configuration in force, the strategy that goes
with it, and analysts' overrides (honoured until they expire or are lifted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from services.scoring.tiers import repository
from services.scoring.tiers.schemas import (
    DEFAULT_STRATEGIES,
    OverrideIn,
    OverrideOut,
    Strategy,
    Thresholds,
    Tier,
    TierConfigIn,
    TierConfigOut,
)
from shared import audit
from shared.db import Database
from shared.errors import NotFound
from shared.models import utcnow
from shared.models.scoring import TierConfig, TierOverride
from shared.overrides import set_tier_override


@dataclass(frozen=True)
class TierPolicy:
    version: int
    thresholds: Thresholds
    strategies: dict[str, Strategy]

    def tier_for(self, pd: float) -> Tier:
        if pd >= self.thresholds.high:
            return Tier.HIGH
        return Tier.MEDIUM if pd >= self.thresholds.medium else Tier.LOW


DEFAULT_POLICY = TierPolicy(version=0, thresholds=Thresholds(),
                            strategies=dict(DEFAULT_STRATEGIES))


# This process's copy of the policy it read last, with the database it came from (its URL:
# the engines of a Database's kinds of session are distinct objects on one database).
_policy_cache: tuple[URL, TierPolicy] | None = None


def current_policy(session: Session) -> TierPolicy:
    """The policy in force, read now (and kept for policy_at_version)."""
    global _policy_cache
    policy = _load_policy(session)
    _policy_cache = (session.get_bind().engine.url, policy)
    return policy


def policy_at_version(db: Database, version: int) -> TierPolicy:
    """The policy whose version a query just read (max of tier_config.version, 0 for none):
    this process's copy while it is that version, else read again. Always current, and a
    hot read pays no query for it."""
    cached = _policy_cache
    if cached and cached[0] == db.engine.url and cached[1].version == version:
        return cached[1]
    with db.read() as session:
        return current_policy(session)


def _load_policy(session: Session) -> TierPolicy:
    row = repository.latest_config(session)
    if row is None:
        return DEFAULT_POLICY
    return TierPolicy(version=row.version, thresholds=Thresholds(**row.thresholds),
                      strategies={k: Strategy(**v) for k, v in row.strategies.items()})


def _config_out(row: TierConfig | None) -> TierConfigOut:
    if row is None:
        return TierConfigOut(version=0, thresholds=DEFAULT_POLICY.thresholds,
                             strategies=dict(DEFAULT_STRATEGIES),  # type: ignore[arg-type]
                             comment="built-in defaults", created_by="riskwatch",
                             created_at=None)
    return TierConfigOut(version=row.version, thresholds=Thresholds(**row.thresholds),
                         strategies={k: Strategy(**v) for k, v in row.strategies.items()},
                         comment=row.comment, created_by=row.created_by,
                         created_at=row.created_at)


def get_config(session: Session) -> TierConfigOut:
    return _config_out(repository.latest_config(session))


def history(session: Session, *, limit: int, offset: int) -> list[TierConfigOut]:
    rows = repository.config_versions(session, limit=limit, offset=offset)
    out = [_config_out(row) for row in rows]
    if len(rows) < limit:
        out.append(_config_out(None))
    return out


def put_config(session: Session, *, config: TierConfigIn, actor: str) -> TierConfigOut:
    """A new version; earlier versions stay for the record (scores name theirs)."""
    global _policy_cache
    _policy_cache = None
    row = TierConfig(version=repository.next_version(session),
                     thresholds=config.thresholds.model_dump(),
                     strategies={k: v.model_dump() for k, v in config.strategies.items()},
                     comment=config.comment, created_by=actor, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="tiers.configured", subject_type="tier_config",
                 subject_id=str(row.version),
                 details={"thresholds": row.thresholds, "comment": row.comment})
    return _config_out(row)


def _override_out(row: TierOverride, now: dt.datetime) -> OverrideOut:
    return OverrideOut(id=row.id, customer_id=row.customer_id, tier=row.tier,  # type: ignore
                       reason=row.reason, expires_at=row.expires_at, created_by=row.created_by,
                       created_at=row.created_at, lifted_at=row.lifted_at,
                       in_force=row.lifted_at is None and row.expires_at > now)


def set_override(session: Session, *, customer_id: str, override: OverrideIn,
                 actor: str) -> OverrideOut:
    # The write lives in shared/ so review decisions override through the same code.
    row = set_tier_override(session, customer_id=customer_id, tier=override.tier,
                            reason=override.reason, expires_at=override.expires_at,
                            actor=actor)
    return _override_out(row, row.created_at)


def lift_overrides(session: Session, *, customer_id: str, actor: str) -> int:
    now = utcnow()
    lifted = 0
    # Every override in force is lifted: "lift" means back to the model's tier.
    for row in repository.overrides_of(session, customer_id):
        if row.lifted_at is None and row.expires_at > now:
            row.lifted_at = now
            lifted += 1
    if not lifted:
        raise NotFound(f"No tier override in force for {customer_id!r}.")
    session.flush()
    audit.record(session, actor=actor, action="tiers.override_lifted",
                 subject_type="customer", subject_id=customer_id, details={"lifted": lifted})
    return lifted


def list_overrides(session: Session, *, customer_id: str) -> list[OverrideOut]:
    now = utcnow()
    return [_override_out(row, now) for row in repository.overrides_of(session, customer_id)]


@dataclass(frozen=True)
class TierInForce:
    """The tier a customer is treated as: an analyst's override if one is in force, else the
    tier the policy gives the model's PD; with that tier's strategy."""

    tier: str
    model_tier: str
    override: TierOverride | None
    strategy: Strategy
    tier_config_version: int


def tier_in_force(policy: TierPolicy, pd: float, override: TierOverride | None) -> TierInForce:
    model_tier = policy.tier_for(pd)
    tier = override.tier if override is not None else model_tier
    return TierInForce(tier=tier, model_tier=model_tier, override=override,
                       strategy=policy.strategies[tier], tier_config_version=policy.version)
