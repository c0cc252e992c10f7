"""SQL for tier configurations and overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    BindParameter,
    ScalarSelect,
    SQLColumnExpression,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from shared.db import Lock, xact_lock
from shared.models.scoring import CustomerRisk, TierConfig, TierOverride


def latest_config(session: Session) -> TierConfig | None:
    return session.scalars(select(TierConfig).order_by(TierConfig.version.desc()).limit(1)).first()


def latest_version_subquery() -> ScalarSelect[int]:
    """The version in force as a scalar subquery (0 while none was ever written)."""
    return (select(func.coalesce(func.max(TierConfig.version), 0)).correlate(None)
            .scalar_subquery())


def override_in_force_subquery(customer_id: SQLColumnExpression[str],
                               now: dt.datetime | BindParameter[dt.datetime]
                               ) -> ScalarSelect[int]:
    """The id of the newest unexpired, unlifted override of ``customer_id`` (correlated)."""
    return (select(TierOverride.id)
            .where(TierOverride.customer_id == customer_id, TierOverride.lifted_at.is_(None),
                   TierOverride.expires_at > now)
            .order_by(TierOverride.created_at.desc(), TierOverride.id.desc())
            .limit(1).correlate_except(TierOverride).scalar_subquery())


def config_versions(session: Session, *, limit: int, offset: int) -> list[TierConfig]:
    return list(session.scalars(select(TierConfig).order_by(TierConfig.version.desc())
                                .limit(limit).offset(offset)))


def next_version(session: Session) -> int:
    """The next version number, held until the transaction ends: two concurrent writers
    would otherwise both take max + 1 and one would fail on the unique version."""
    xact_lock(session, Lock.TIER_CONFIG)
    return int(session.scalar(select(func.coalesce(func.max(TierConfig.version), 0))) or 0) + 1


def overrides_in_force(session: Session, customer_ids: Sequence[str],
                       now: dt.datetime) -> dict[str, TierOverride]:
    """The newest unexpired, unlifted override per customer."""
    rows = session.scalars(
        select(TierOverride).where(TierOverride.customer_id.in_(list(customer_ids)),
                                   TierOverride.lifted_at.is_(None),
                                   TierOverride.expires_at > now)
        .order_by(TierOverride.created_at, TierOverride.id))
    return {row.customer_id: row for row in rows}


def overrides_of(session: Session, customer_id: str) -> list[TierOverride]:
    return list(session.scalars(select(TierOverride).where(TierOverride.customer_id ==
                                                           customer_id)
                                .order_by(TierOverride.id.desc())))


def pd_bucket_counts(session: Session, edges: Sequence[float]) -> dict[int, int]:
    """Current default PDs counted per bucket: bucket k holds edges[k] <= pd < edges[k+1]
    (the last bucket closed: a PD of 1 is in it). One pass over ``customer_risk``."""
    inner = edges[1:-1]
    bucket = case(*((CustomerRisk.pd_default < edge, k) for k, edge in enumerate(inner)),
                  else_=len(inner)) if inner else literal(0)
    return {int(k): int(n) for k, n in session.execute(
        select(bucket.label("bucket"), func.count()).group_by("bucket"))}
