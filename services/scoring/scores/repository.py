"""SQL of current risks: the one-statement read behind GET /risk and credit decisions, and
bulk writes of scores (shared/bulk.py: one JSON document per batch on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, bindparam, select

from services.scoring.tiers.repository import (
    latest_version_subquery,
    override_in_force_subquery,
)
from shared.bulk import bulk_update, bulk_write
from shared.db import Database
from shared.hotpath import HotStatement
from shared.models import Customer
from shared.models.scoring import CustomerRisk, TierOverride

__all__ = ["bulk_update", "bulk_write", "risk_row"]

RiskRow = tuple[CustomerRisk | None, TierOverride | None, int]


def _risk_row_statement() -> Select[CustomerRisk, TierOverride, int]:
    override_id = override_in_force_subquery(Customer.customer_id, bindparam("now"))
    return (select(CustomerRisk, TierOverride, latest_version_subquery())
            .select_from(Customer)
            .outerjoin(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
            .outerjoin(TierOverride, TierOverride.id == override_id)
            .where(Customer.customer_id == bindparam("customer_id")))


# Built once: building it per call (subqueries, joins, the cache key) was a tenth of the
# scoring service's CPU per risk read under load (py-spy, bench.requests --profile).
RISK_ROW = _risk_row_statement()
_RISK_READ = HotStatement(RISK_ROW)
_RISK_COLUMNS = [column.key for column in CustomerRisk.__table__.columns]
_OVERRIDE_COLUMNS = [column.key for column in TierOverride.__table__.columns]


def risk_row(db: Database, customer_id: str, now: dt.datetime) -> RiskRow | None:
    """In one statement: the customer's stored risk, the override in force and the tier
    policy version (None: no such customer; a None risk: not scored yet).

    A hot read (shared/hotpath.py): the risk and the override come back as new, detached
    objects, never attached to a session, so nothing set on them is written by accident."""
    row = _RISK_READ.first(db, customer_id=customer_id, now=now)
    if row is None:
        return None
    risk_values = row[:len(_RISK_COLUMNS)]
    override_values = row[len(_RISK_COLUMNS):len(_RISK_COLUMNS) + len(_OVERRIDE_COLUMNS)]
    risk = None if risk_values[0] is None else CustomerRisk(
        **dict(zip(_RISK_COLUMNS, risk_values, strict=True)))
    override = None if override_values[0] is None else TierOverride(
        **dict(zip(_OVERRIDE_COLUMNS, override_values, strict=True)))
    return risk, override, int(row[-1])
