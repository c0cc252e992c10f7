"""The SQL a backtest reads: a window of events and default-risk scores, the customers'
profiles, and when each counterparty was first seen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from services.alerts.rules.compiled import CompiledRule
from services.alerts.rules.schemas import AnomalyParams, EventParams
from shared.models import Customer, Event
from shared.models.scoring import Score


def event_types_for(rule: CompiledRule) -> list[str] | None:
    """The event types a rule reacts to; None for every type (stateful rules evaluate on
    every event)."""
    if isinstance(rule.params, EventParams):
        return [rule.params.event_type]
    if isinstance(rule.params, AnomalyParams):
        return [str(rule.params.event_type)]
    return None


def events(session: Session, *, start: dt.datetime, end: dt.datetime,
           customers: Collection[str] | None, types: list[str] | None,
           limit: int) -> list[dict[str, Any]]:
    query = select(Event.id, Event.customer_id, Event.type, Event.occurred_at, Event.amount,
                   Event.currency, Event.counterparty, Event.data, Event.ref_id,
                   Event.value, func.length(cast(Event.data, Text)).label("data_bytes"),
                   ).where(Event.occurred_at >= start, Event.occurred_at <= end)
    if customers:
        query = query.where(Event.customer_id.in_(list(customers)))
    if types:
        query = query.where(Event.type.in_(types))
    rows = session.execute(query.order_by(Event.occurred_at, Event.id).limit(limit)).all()
    return [{"pk": r.id, "customer_id": r.customer_id, "type": r.type,
             "occurred_at": r.occurred_at,
             "amount": float(r.amount) if isinstance(r.amount, Decimal) else r.amount,
             "currency": r.currency, "counterparty": r.counterparty,
             "data": r.data if isinstance(r.data, dict) else {"value": r.data},
             "ref_id": r.ref_id, "value": r.value, "data_bytes": int(r.data_bytes or 0)}
            for r in rows]


def scores(session: Session, *, start: dt.datetime, end: dt.datetime,
           customers: Collection[str] | None
           ) -> list[tuple[str, dt.datetime, float, int, str | None]]:
    """Default-risk scores in the window, and the one in force at its start."""
    where = [Score.target == "default", Score.shadow.is_(False)]
    if customers:
        where.append(Score.customer_id.in_(list(customers)))
    inside = session.execute(select(Score.customer_id, Score.scored_at, Score.pd, Score.points,
                                    Score.tier).where(*where, Score.scored_at >= start,
                                                      Score.scored_at <= end)).all()
    latest = (select(Score.customer_id, func.max(Score.scored_at).label("at"))
              .where(*where, Score.scored_at < start).group_by(Score.customer_id).subquery())
    before = session.execute(
        select(Score.customer_id, Score.scored_at, Score.pd, Score.points, Score.tier)
        .join(latest, (Score.customer_id == latest.c.customer_id)
              & (Score.scored_at == latest.c.at)).where(*where)).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in [*before, *inside]]


def profiles(session: Session, ids: Collection[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.execute(select(Customer.customer_id, Customer.name, Customer.industry,
                                  Customer.country, Customer.owner, Customer.attributes)
                           .where(Customer.customer_id.in_(list(ids)))).all()
    return {r.customer_id: {"customer_id": r.customer_id, "name": r.name,
                            "industry": r.industry, "country": r.country, "owner": r.owner,
                            "attributes": r.attributes or {}} for r in rows}


def first_counterparties(session: Session, ids: Collection[str]) -> dict[tuple[str, str], int]:
    if not ids:
        return {}
    rows = session.execute(select(Event.customer_id, Event.counterparty, func.min(Event.id))
                           .where(Event.customer_id.in_(list(ids)),
                                  Event.counterparty.is_not(None))
                           .group_by(Event.customer_id, Event.counterparty)).all()
    return {(r[0], str(r[1])): int(r[2]) for r in rows}
