"""What the reviews service reads of the shared schema and treats alike everywhere: which
customers are real (drills excluded), the tier each is treated as (an analyst's override in
force, else the model's), and the open alerts once the alerts tables exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, Table, func, select, true
from sqlalchemy.orm import Session

from shared.models import Base, Customer
from shared.models.scoring import CustomerRisk, TierOverride

Columns = TypeVarTuple("Columns")
# Names the alerts engineers may give the drill flag on customer; until one exists, every
# customer is real (see the closing note of issue 11).
_DRILL_COLUMNS = ("drill", "is_drill")
_OPEN_ALERT_STATUSES = ("open", "acknowledged")
_ALERT_FIELDS = ("id", "rule_id", "rule_name", "severity", "status", "title", "summary",
                 "opened_at", "last_seen_at")


def real_customer() -> ColumnElement[bool]:
    """A WHERE clause on ``customer`` that leaves drill customers out, if they are marked."""
    table: Table = Customer.__table__  # type: ignore[assignment]
    for name in _DRILL_COLUMNS:
        if name in table.c:
            column = table.c[name]
            return (column.is_(None)) | (column == False)  # noqa: E712 - SQL, not Python
    return true()


def only_real_customers(query: Select[*Columns],
                        customer_id: Any) -> Select[*Columns]:
    """``query`` restricted to real customers: joined to ``customer`` for the drill flag
    only when the flag exists, so a report over ``customer_risk`` reads no other table."""
    if not drill_flag_exists():
        return query
    return query.join(Customer, Customer.customer_id == customer_id).where(real_customer())


def newest_overrides(now: dt.datetime) -> Any:
    """Subquery: the id of each customer's newest override in force at ``now``."""
    return (select(TierOverride.customer_id, func.max(TierOverride.id).label("id"))
            .where(TierOverride.lifted_at.is_(None), TierOverride.expires_at > now)
            .group_by(TierOverride.customer_id).subquery())


def overrides_in_force(session: Session, customer_ids: Sequence[str],
                       now: dt.datetime) -> dict[str, TierOverride]:
    newest = newest_overrides(now)
    rows = session.scalars(select(TierOverride).join(newest, newest.c.id == TierOverride.id)
                           .where(newest.c.customer_id.in_(list(customer_ids))))
    return {row.customer_id: row for row in rows}


def risks(session: Session, customer_ids: Sequence[str]) -> dict[str, CustomerRisk]:
    rows = session.scalars(select(CustomerRisk)
                           .where(CustomerRisk.customer_id.in_(list(customer_ids))))
    return {row.customer_id: row for row in rows}


def open_alerts(session: Session, customer_id: str, *, limit: int = 50,
                tables: Mapping[str, Table] | None = None) -> list[dict[str, Any]]:
    """The customer's open alerts, read from the shared schema (never by calling alerts);
    an empty list while the alerts tables are not part of the schema. Only the columns the
    alerts contract names are read, those the table has."""
    table = (Base.metadata.tables if tables is None else tables).get("alert")
    if table is None or "customer_id" not in table.c:
        return []
    columns = [table.c[name] for name in _ALERT_FIELDS if name in table.c]
    query = select(*columns).where(table.c.customer_id == customer_id)
    if "status" in table.c:
        query = query.where(table.c.status.in_(_OPEN_ALERT_STATUSES))
    order = table.c["opened_at"].desc() if "opened_at" in table.c else columns[0].desc()
    return [dict(row._mapping) for row in session.execute(query.order_by(order).limit(limit))]


def drill_flag_exists() -> bool:
    table: Table = Customer.__table__  # type: ignore[assignment]
    return any(name in table.c for name in _DRILL_COLUMNS)
