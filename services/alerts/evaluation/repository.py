"""All SQL the evaluation reads: a batch's customers, their stored current risk and features,
the triggering events and the history the batch's rules need, each in one query for the
whole batch (never one per customer or per rule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, and_, cast, func, select
from sqlalchemy.orm import Session

from services.alerts.evaluation.conditions import Facts
from shared.db import among as _among
from shared.models import Customer, Event
from shared.models.scoring import CustomerRisk, Score, TierOverride

RISK_FIELDS = ("pd", "points", "tier", "pd_churn", "overdue_amount", "outstanding_balance",
               "credit_limit", "in_default")


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


Risk = tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]


def customers_and_risks(session: Session, ids: Collection[str], now: dt.datetime
                        ) -> tuple[dict[str, dict[str, Any]], dict[str, Risk]]:
    """The customers' profiles, and for those scored (risk, its top reasons, features),
    the tier being the one in force (an analyst's override wins while it lasts): one
    query, as every round trip is paid per batch."""
    override = (select(TierOverride.tier)
                .where(TierOverride.customer_id == Customer.customer_id,
                       TierOverride.lifted_at.is_(None), TierOverride.expires_at > now)
                .order_by(TierOverride.created_at.desc()).limit(1)
                .correlate(Customer).scalar_subquery())
    rows = session.execute(select(
        Customer.customer_id, Customer.name, Customer.industry, Customer.country,
        Customer.owner, Customer.employees, Customer.credit_limit, Customer.attributes,
        Customer.is_drill,
        CustomerRisk.customer_id.label("scored"), CustomerRisk.pd_default,
        CustomerRisk.points, CustomerRisk.tier, CustomerRisk.pd_churn,
        CustomerRisk.overdue_amount, CustomerRisk.outstanding_balance,
        CustomerRisk.credit_limit.label("risk_credit_limit"), CustomerRisk.in_default,
        CustomerRisk.reasons, CustomerRisk.features, override.label("override_tier"),
    ).outerjoin(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
        .where(_among(session, Customer.customer_id, ids))).all()
    profiles: dict[str, dict[str, Any]] = {}
    risks: dict[str, Risk] = {}
    for r in rows:
        profiles[r.customer_id] = {
            "customer_id": r.customer_id, "name": r.name, "industry": r.industry,
            "country": r.country, "owner": r.owner, "employees": r.employees,
            "credit_limit": _plain(r.credit_limit), "attributes": r.attributes or {},
            "is_drill": bool(r.is_drill)}
        if r.scored is None:
            continue
        risk = {"pd": r.pd_default, "points": r.points, "tier": r.override_tier or r.tier,
                "pd_churn": r.pd_churn, "overdue_amount": _plain(r.overdue_amount),
                "outstanding_balance": _plain(r.outstanding_balance),
                "credit_limit": _plain(r.risk_credit_limit), "in_default": r.in_default}
        features = {k: v for k, v in (r.features or {}).items() if v is not None}
        risks[r.customer_id] = (risk, list(r.reasons or [])[:5], features)
    return profiles, risks


def events(session: Session, pks: Collection[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(select(
        Event.id, Event.customer_id, Event.type, Event.occurred_at, Event.amount,
        Event.currency, Event.counterparty, Event.data,
        func.length(cast(Event.data, Text)).label("data_bytes"),
    ).where(_among(session, Event.id, pks))).all()
    return {r.id: {"pk": r.id, "customer_id": r.customer_id, "type": r.type,
                   "occurred_at": r.occurred_at, "amount": _plain(r.amount),
                   "currency": r.currency, "counterparty": r.counterparty,
                   "data": r.data if isinstance(r.data, dict) else {"value": r.data},
                   "data_bytes": int(r.data_bytes or 0)}
            for r in rows}


def window_counts(session: Session, facts: Facts, ids: Collection[str],
                  needs: Iterable[tuple[str, int]], now: dt.datetime) -> None:
    """Events of each (type, window) per customer, one query per distinct need."""
    for event_type, days in set(needs):
        rows = session.execute(
            select(Event.customer_id, func.count())
            .where(_among(session, Event.customer_id, ids), Event.type == event_type,
                   Event.occurred_at > now - dt.timedelta(days=days),
                   Event.occurred_at <= now)
            .group_by(Event.customer_id)).all()
        for cid, count in rows:
            facts.window_counts[(cid, event_type, days)] = int(count)


def score_windows(session: Session, facts: Facts, ids: Collection[str],
                  windows: Collection[int], now: dt.datetime) -> None:
    """For each window: the lowest PD since its start (the score in force at the start
    included) and the tier at its start, from the default-risk score history."""
    if not windows:
        return
    longest = max(windows)
    start = now - dt.timedelta(days=longest)
    base = select(Score.customer_id, Score.scored_at, Score.pd, Score.tier).where(
        _among(session, Score.customer_id, ids), Score.target == "default", Score.shadow.is_(False))
    inside = session.execute(base.where(Score.scored_at >= start)).all()
    # The score in force at the longest window's start: the latest before it.
    latest_before = (select(Score.customer_id, func.max(Score.scored_at).label("at"))
                     .where(_among(session, Score.customer_id, ids), Score.target == "default",
                            Score.shadow.is_(False), Score.scored_at < start)
                     .group_by(Score.customer_id).subquery())
    before = session.execute(base.join(latest_before, and_(
        Score.customer_id == latest_before.c.customer_id,
        Score.scored_at == latest_before.c.at))).all()
    history: dict[str, list[tuple[dt.datetime, float, str | None]]] = {}
    for row in [*before, *inside]:
        history.setdefault(row.customer_id, []).append((row.scored_at, row.pd, row.tier))
    for cid, scores in history.items():
        scores.sort()
        for days in windows:
            window_start = now - dt.timedelta(days=days)
            at_start = [s for s in scores if s[0] <= window_start]
            within = [s for s in scores if s[0] > window_start]
            considered = at_start[-1:] + within
            if considered:
                facts.pd_floor[(cid, days)] = min(s[1] for s in considered)
                first = considered[0][2]
                if first is not None:
                    facts.tier_before[(cid, days)] = first


def ratings(session: Session, facts: Facts, ids: Collection[str]) -> None:
    rows = session.execute(
        select(Event.customer_id, Event.occurred_at, Event.ref_id, Event.data, Event.value)
        .where(_among(session, Event.customer_id, ids), Event.type == "credit_rating.updated")
        .order_by(Event.customer_id, Event.occurred_at, Event.id)).all()
    for r in rows:
        data = r.data if isinstance(r.data, dict) else {}
        facts.ratings.setdefault(r.customer_id, []).append(
            (r.occurred_at, r.ref_id or str(data.get("agency") or "agency"),
             str(data.get("rating") or ""), r.value if r.value is not None else float("nan")))


def history(session: Session, facts: Facts, ids: Collection[str],
            types: Collection[str], since: dt.datetime) -> None:
    """Amounts and times of the given event types since ``since`` (anomaly baselines)."""
    if not types:
        return
    rows = session.execute(
        select(Event.customer_id, Event.type, Event.occurred_at, Event.id, Event.amount)
        .where(_among(session, Event.customer_id, ids), _among(session, Event.type, types),
               Event.occurred_at >= since)
        .order_by(Event.occurred_at, Event.id)).all()
    for r in rows:
        facts.history.setdefault((r.customer_id, r.type), []).append(
            (r.occurred_at, r.id, float(r.amount) if r.amount is not None else 0.0))


def first_counterparties(session: Session, facts: Facts,
                         pairs: Collection[tuple[str, str]]) -> None:
    """The first event naming each (customer, counterparty), across all history."""
    if not pairs:
        return
    ids = sorted({p[0] for p in pairs})
    names = sorted({p[1] for p in pairs})
    rows = session.execute(
        select(Event.customer_id, Event.counterparty, func.min(Event.id))
        .where(_among(session, Event.customer_id, ids),
               _among(session, Event.counterparty, names))
        .group_by(Event.customer_id, Event.counterparty)).all()
    for cid, counterparty, first in rows:
        if counterparty is not None and (cid, counterparty) in pairs:
            facts.first_counterparty[(cid, counterparty)] = int(first)


def scored_customers(session: Session, *, after: str | None, limit: int) -> list[str]:
    """A keyset page of the customers with a stored current risk, in id order."""
    query = select(CustomerRisk.customer_id)
    if after is not None:
        query = query.where(CustomerRisk.customer_id > after)
    return list(session.scalars(query.order_by(CustomerRisk.customer_id).limit(limit)))
