"""Backtests: replay a past window of stored events and score history through one rule,
with the alert lifecycle (one open alert per customer, resolve delay, cooldown) simulated in
memory, and report the alerts it would have raised. Nothing is written.

What history can tell: events (all kinds of event and anomaly rules, windowed counts,
agency ratings) and the default-risk score history (PD, points, tier, and the change rules
on them). Features and money amounts of the current risk are not kept per moment, so a
condition on them has no verdict in a backtest; the report counts those evaluations.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from services.alerts.backtest import repository
from services.alerts.backtest.schemas import BacktestAlert, BacktestIn, BacktestOut
from services.alerts.evaluation.conditions import CLEAR, Facts, Hit, Subject, evaluate
from services.alerts.rules.compiled import CompiledRule, compile_rule
from services.alerts.rules.schemas import (
    WINDOW_INDICATORS,
    AnomalyParams,
    ChangeParams,
    RuleIn,
    ThresholdParams,
)
from services.alerts.settings import get_alerts_settings
from shared.errors import ValidationFailed, field_error
from shared.models import utcnow
from shared.models.alerts import AlertRule

NOTE = ("Replayed from stored events and the default-risk score history. Features and the "
        "current risk's amounts are not kept per moment: conditions on them have no verdict "
        "(counted in `no_verdict`). Customer profiles and scopes are as they are today.")


def rule_from_body(body: RuleIn) -> CompiledRule:
    settings = get_alerts_settings()
    return compile_rule(
        id=0, version=0, name=body.name, kind=body.kind, params=body.params,
        scope=body.scope.model_dump(), severity=body.severity,
        cooldown_seconds=(settings.default_cooldown_seconds if body.cooldown_seconds is None
                          else body.cooldown_seconds),
        resolve_after_seconds=(settings.default_resolve_after_seconds
                               if body.resolve_after_seconds is None
                               else body.resolve_after_seconds),
        repeat_interval_seconds=body.repeat_interval_seconds)


def rule_from_row(row: AlertRule) -> CompiledRule:
    return compile_rule(id=row.id, version=row.version, name=row.name, kind=row.kind,
                        params=row.params, scope=row.scope, severity=row.severity,
                        cooldown_seconds=row.cooldown_seconds,
                        resolve_after_seconds=row.resolve_after_seconds,
                        repeat_interval_seconds=row.repeat_interval_seconds)


def _lookback_days(rule: CompiledRule) -> int:
    params = rule.params
    if isinstance(params, ThresholdParams):
        return params.window_days or 0
    if isinstance(params, ChangeParams):
        return params.window_days
    if isinstance(params, AnomalyParams):
        return (params.lookback_days if params.anomaly == "amount_zscore"
                else params.recent_days + params.baseline_days)
    return 0


@dataclass
class _Simulated:
    """One would-be alert of the replay."""

    customer_id: str
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    title: str
    values: dict[str, Any]
    hit_count: int = 1
    clear_since: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


@dataclass
class _History:
    """A customer's stored history, in time order."""

    scores: list[tuple[dt.datetime, float, int, str | None]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _facts_at(rule: CompiledRule, history: _History, customer_id: str, at: dt.datetime,
              first_counterparty: dict[tuple[str, str], int]) -> Facts:
    """What the live worker reads from the database, computed as of ``at`` in memory."""
    facts = Facts(first_counterparty=first_counterparty)
    params = rule.params
    past = [e for e in history.events if e["occurred_at"] <= at]
    if isinstance(params, ThresholdParams) and params.indicator in WINDOW_INDICATORS:
        assert params.window_days is not None
        event_type = WINDOW_INDICATORS[params.indicator]
        start = at - dt.timedelta(days=params.window_days)
        facts.window_counts[(customer_id, event_type, params.window_days)] = sum(
            1 for e in past if e["type"] == event_type and e["occurred_at"] > start)
    elif isinstance(params, ChangeParams) and params.change != "rating_down":
        start = at - dt.timedelta(days=params.window_days)
        times = [s[0] for s in history.scores]
        upto = bisect.bisect_right(times, at)
        first_inside = bisect.bisect_right(times, start)
        considered = history.scores[max(first_inside - 1, 0):upto]
        if considered:
            facts.pd_floor[(customer_id, params.window_days)] = min(s[1] for s in considered)
            if considered[0][3] is not None:
                facts.tier_before[(customer_id, params.window_days)] = considered[0][3]
    elif isinstance(params, ChangeParams):
        facts.ratings[customer_id] = [
            (e["occurred_at"], e["ref_id"] or str(e["data"].get("agency") or "agency"),
             str(e["data"].get("rating") or ""),
             e["value"] if e["value"] is not None else float("nan"))
            for e in past if e["type"] == "credit_rating.updated"]
    elif isinstance(params, AnomalyParams) and params.anomaly != "new_counterparty":
        facts.history[(customer_id, str(params.event_type))] = [
            (e["occurred_at"], e["pk"], float(e["amount"] or 0.0)) for e in past
            if e["type"] == params.event_type]
    return facts


def backtest(session: Session, *, rule: CompiledRule, body: BacktestIn) -> BacktestOut:
    settings = get_alerts_settings()
    end = body.end or utcnow()
    start = body.start
    if end <= start:
        raise ValidationFailed("end must be after start.",
                               errors=[field_error("end", "must be after start")])
    if end - start > dt.timedelta(days=settings.backtest_max_days):
        raise ValidationFailed(f"A backtest replays at most {settings.backtest_max_days} days.",
                               errors=[field_error("start", "window too long")])
    customers = sorted(set(body.customers or rule.customers)) or None
    lookback = dt.timedelta(days=_lookback_days(rule))
    event_types = repository.event_types_for(rule)
    events = repository.events(session, start=start - lookback, end=end, customers=customers,
                               types=event_types, limit=settings.backtest_max_events)
    scores = repository.scores(session, start=start - lookback, end=end, customers=customers)
    ids = sorted({e["customer_id"] for e in events} | {s[0] for s in scores})
    profiles = repository.profiles(session, ids)
    first_counterparty = (repository.first_counterparties(session, ids)
                          if isinstance(rule.params, AnomalyParams)
                          and rule.params.anomaly == "new_counterparty" else {})
    histories: dict[str, _History] = defaultdict(_History)
    for cid, at, pd, points, tier in scores:
        histories[cid].scores.append((at, pd, points, tier))
    for event in events:
        histories[event["customer_id"]].events.append(event)
    triggers: list[tuple[dt.datetime, int, str, Any]] = []
    for cid, history in histories.items():
        history.scores.sort(key=lambda s: s[0])
        for index, score in enumerate(history.scores):
            # Score changes inform stateful rules only (as in the live worker).
            if score[0] >= start and rule.stateful:
                triggers.append((score[0], 0, cid, index))
        for event in history.events:
            if event["occurred_at"] >= start:
                triggers.append((event["occurred_at"], event["pk"], cid, event))
    triggers.sort(key=lambda t: (t[0], t[1]))
    open_alert: dict[str, _Simulated] = {}
    cooldown_until: dict[str, dt.datetime] = {}
    found: list[_Simulated] = []
    evaluations = no_verdict = 0
    resolve_after = dt.timedelta(seconds=rule.resolve_after_seconds)
    cooldown = dt.timedelta(seconds=rule.cooldown_seconds)
    for at, _, cid, what in triggers:
        current = open_alert.get(cid)
        if current is not None:
            since = current.clear_since if rule.stateful else current.last_seen_at
            if since is not None and at - since >= resolve_after:
                current.resolved_at = since + resolve_after
                cooldown_until[cid] = current.resolved_at + cooldown
                del open_alert[cid]
                current = None
        history = histories[cid]
        subject = _subject(cid, at, what, history, profiles.get(cid, {}))
        if subject is None or not rule.in_scope(cid, subject.tier,
                                                subject.customer.get("industry")):
            continue
        evaluations += 1
        outcome = evaluate(rule, subject, _facts_at(rule, history, cid, at,
                                                    first_counterparty))
        if isinstance(outcome, Hit):
            if current is not None:
                current.hit_count += 1
                current.last_seen_at, current.clear_since = at, None
            elif at >= cooldown_until.get(cid, at):
                alert = _Simulated(cid, at, at, outcome.title, outcome.values)
                open_alert[cid] = alert
                found.append(alert)
        elif outcome is CLEAR:
            if current is not None and rule.stateful and current.clear_since is None:
                current.clear_since = at
        else:
            no_verdict += 1
    return BacktestOut(
        rule_id=rule.id or None, rule_name=rule.name, start=start, end=end,
        triggers=len(triggers), evaluations=evaluations, no_verdict=no_verdict,
        alerts=len(found), customers=len({a.customer_id for a in found}),
        events_truncated=len(events) >= settings.backtest_max_events,
        items=[BacktestAlert(customer_id=a.customer_id, opened_at=a.opened_at,
                             last_seen_at=a.last_seen_at, resolved_at=a.resolved_at,
                             hit_count=a.hit_count, title=a.title, values=a.values)
               for a in found[:body.limit]],
        note=NOTE)


def _subject(cid: str, at: dt.datetime, what: Any, history: _History,
             profile: dict[str, Any]) -> Subject | None:
    if isinstance(what, int):  # a score of the history
        score, previous = history.scores[what], history.scores[what - 1] if what else None
        return Subject(customer_id=cid, trigger="score", hit_key=f"score:{score[0]}", at=at,
                       customer=profile, risk={"pd": score[1], "points": score[2],
                                               "tier": score[3]},
                       previous_risk=None if previous is None else {
                           "pd": previous[1], "points": previous[2], "tier": previous[3]},
                       features={})
    times = [s[0] for s in history.scores]
    index = bisect.bisect_right(times, at) - 1
    risk = None
    if index >= 0:
        score = history.scores[index]
        risk = {"pd": score[1], "points": score[2], "tier": score[3]}
    event = {k: what[k] for k in ("pk", "customer_id", "type", "occurred_at", "amount",
                                  "currency", "counterparty", "data", "data_bytes")}
    return Subject(customer_id=cid, trigger="event", hit_key=f"event:{what['pk']}", at=at,
                   customer=profile, risk=risk, previous_risk=None, features={}, event=event)
