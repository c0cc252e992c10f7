"""Each rule kind's condition as a pure function of one trigger about one customer and the
batch's facts (no database): the worker, the backtest and the bench's in-memory ceiling all
evaluate through :func:`evaluate`.

An evaluation answers a :class:`Hit` (with the values that crossed), :data:`CLEAR` (the
condition does not hold: an open alert of a stateful rule starts counting towards its
resolve delay) or None (this trigger says nothing about the rule: an event rule on a score
change, a customer not scored yet).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Final

from services.alerts.rules.compiled import CompiledRule
from services.alerts.rules.schemas import (
    WINDOW_INDICATORS,
    AnomalyParams,
    ChangeParams,
    Condition,
    EventParams,
    ThresholdParams,
)
from shared.models.alerts import RuleKind

TIER_RANK = {"low": 0, "medium": 1, "high": 2}
# Agency ratings as notches, best first: S&P / Fitch letters, Moody's beside them.
_SP = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
       "B+", "B", "B-", "CCC+", "CCC", "CCC-", "CC", "C", "D"]
_MOODYS = ["Aaa", "Aa1", "Aa2", "Aa3", "A1", "A2", "A3", "Baa1", "Baa2", "Baa3", "Ba1", "Ba2",
           "Ba3", "B1", "B2", "B3", "Caa1", "Caa2", "Caa3", "Ca", "C"]
NOTCH = {**{r: i for i, r in enumerate(_SP)}, **{r: i for i, r in enumerate(_MOODYS)},
         "SD": 21, "RD": 21}
# An agency whose letters are unknown: its 0-100 score, 5 points to a notch.
SCORE_POINTS_PER_NOTCH = 5.0
LABELS = {"pd": "PD", "pd_churn": "churn PD", "points": "Points", "tier": "Tier",
          "overdue_amount": "Overdue amount", "outstanding_balance": "Outstanding balance",
          "credit_limit": "Credit limit", "in_default": "In default",
          "days_past_due": "Days past due", "utilization": "Credit utilisation",
          "complaints": "Complaints", "orders": "Orders", "transactions": "Transactions"}


@dataclass(frozen=True)
class Hit:
    values: dict[str, Any]
    title: str
    summary: str


class _Clear:
    def __repr__(self) -> str:
        return "CLEAR"


CLEAR: Final = _Clear()
Outcome = Hit | _Clear | None


@dataclass
class Subject:
    """One trigger about one customer: a stored event, or a score change."""

    customer_id: str
    trigger: str  # "event" | "score"
    hit_key: str  # what a repeat delivery of the same trigger shares
    at: dt.datetime
    customer: dict[str, Any]
    risk: dict[str, Any] | None
    previous_risk: dict[str, Any] | None
    features: dict[str, Any]
    event: dict[str, Any] | None = None
    # The customer's top risk reasons (stored with an alert, to show why it fired).
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tier(self) -> str | None:
        return None if self.risk is None else self.risk.get("tier")


@dataclass
class Facts:
    """History the batch's rules need, read once for all its customers."""

    # (customer, event type, window days) -> events in the window before the batch time
    window_counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # (customer, window days) -> lowest PD in the window (and the score before it)
    pd_floor: dict[tuple[str, int], float] = field(default_factory=dict)
    # (customer, window days) -> the tier at the start of the window
    tier_before: dict[tuple[str, int], str] = field(default_factory=dict)
    # customer -> [(occurred_at, agency, rating, score)] in time order
    ratings: dict[str, list[tuple[dt.datetime, str, str, float]]] = field(default_factory=dict)
    # (customer, event type) -> [(occurred_at, event pk, amount)] in time order
    history: dict[tuple[str, str], list[tuple[dt.datetime, int, float]]] = field(
        default_factory=dict)
    # (customer, counterparty) -> the first event pk naming it
    first_counterparty: dict[tuple[str, str], int] = field(default_factory=dict)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _compare(left: float, operator: str, right: float) -> bool:
    match operator:
        case ">":
            return left > right
        case ">=":
            return left >= right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case "==":
            return left == right
        case _:
            return left != right


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def evaluate(rule: CompiledRule, subject: Subject, facts: Facts) -> Outcome:
    match rule.kind:
        case RuleKind.THRESHOLD:
            return _threshold(rule.params, subject, facts)
        case RuleKind.CHANGE:
            return _change(rule.params, subject, facts)
        case RuleKind.ANOMALY:
            return _anomaly(rule.params, subject, facts)
        case RuleKind.EVENT:
            return _event(rule.params, subject)
        case _:
            return _expression(rule, subject)


def _indicator(params: ThresholdParams, subject: Subject, facts: Facts) -> Any:
    name = params.indicator
    if name in WINDOW_INDICATORS:
        assert params.window_days is not None
        return facts.window_counts.get(
            (subject.customer_id, WINDOW_INDICATORS[name], params.window_days), 0)
    if name == "pd":
        return None if subject.risk is None else subject.risk.get("pd")
    if subject.risk is not None and name in subject.risk:
        return subject.risk.get(name)
    return subject.features.get(name.removeprefix("feature:"))


def _threshold(params: ThresholdParams, subject: Subject, facts: Facts) -> Outcome:
    raw = _indicator(params, subject, facts)
    if raw is None:
        return None
    label = LABELS.get(params.indicator, params.indicator.removeprefix("feature:")
                       .replace("_", " ").capitalize())
    if params.indicator == "tier":
        if raw not in TIER_RANK:
            return None
        assert isinstance(params.value, str)
        crossed = _compare(TIER_RANK[raw], params.operator, TIER_RANK[params.value])
        shown: Any = raw
    else:
        value = _num(raw)
        if value is None:
            return None
        assert not isinstance(params.value, str)
        crossed = _compare(value, params.operator, float(params.value))
        shown = value
    if not crossed:
        return CLEAR
    window = f" in {params.window_days} days" if params.window_days else ""
    key = params.indicator.removeprefix("feature:")
    return Hit(values={key: shown, "threshold": params.value, "operator": params.operator},
               title=f"{label}{window} {_fmt(shown)} {params.operator} {_fmt(params.value)}",
               summary=f"{label}{window} is {_fmt(shown)}, past the rule's "
                       f"{params.operator} {_fmt(params.value)}.")


def _change(params: ChangeParams, subject: Subject, facts: Facts) -> Outcome:
    cid, days = subject.customer_id, params.window_days
    if params.change == "rating_down":
        return _rating_down(params, subject, facts)
    if subject.risk is None:
        return None
    if params.change == "pd_up":
        pd = _num(subject.risk.get("pd"))
        floor = facts.pd_floor.get((cid, days))
        if pd is None or floor is None:
            return None
        up = (pd - floor) * 100
        assert params.points is not None
        if up < params.points - 1e-9:
            return CLEAR
        return Hit(values={"pd": pd, "pd_low_in_window": floor, "points_up": round(up, 4),
                           "window_days": days},
                   title=f"PD up {up:.1f} points in {days} days ({floor:.2%} → {pd:.2%})",
                   summary=f"PD rose from {floor:.2%} to {pd:.2%} within {days} days, "
                           f"{up:.1f} points (rule: {params.points:g}).")
    tier, before = subject.risk.get("tier"), facts.tier_before.get((cid, days))
    if tier not in TIER_RANK or before not in TIER_RANK:
        return None
    assert before is not None and tier is not None
    worse = TIER_RANK[tier] > TIER_RANK[before] and (not params.to_tiers
                                                     or tier in params.to_tiers)
    if not worse:
        return CLEAR
    return Hit(values={"tier": tier, "tier_before": before, "window_days": days},
               title=f"Tier worsened {before} → {tier}",
               summary=f"The tier went from {before} to {tier} within {days} days.")


def _rating_notches(older: tuple[Any, ...], newer: tuple[Any, ...]) -> float | None:
    old_rating, new_rating = NOTCH.get(older[2]), NOTCH.get(newer[2])
    if old_rating is not None and new_rating is not None:
        return float(new_rating - old_rating)
    old_score, new_score = _num(older[3]), _num(newer[3])
    if old_score is None or new_score is None:
        return None
    return (old_score - new_score) / SCORE_POINTS_PER_NOTCH


def _rating_down(params: ChangeParams, subject: Subject, facts: Facts) -> Outcome:
    by_agency: dict[str, list[tuple[dt.datetime, str, str, float]]] = {}
    for rating in facts.ratings.get(subject.customer_id, ()):
        if rating[0] <= subject.at and (params.agency is None or rating[1] == params.agency):
            by_agency.setdefault(rating[1], []).append(rating)
    start = subject.at - dt.timedelta(days=params.window_days)
    assert params.notches is not None
    for agency, ratings in sorted(by_agency.items()):
        if len(ratings) < 2 or ratings[-1][0] < start:
            continue
        notches = _rating_notches(ratings[-2], ratings[-1])
        if notches is not None and notches >= params.notches:
            older, newer = ratings[-2], ratings[-1]
            return Hit(values={"agency": agency, "rating_before": older[2],
                               "rating": newer[2], "notches_down": round(notches, 2)},
                       title=f"{agency} rating down {notches:g} notches "
                             f"({older[2]} → {newer[2]})",
                       summary=f"{agency} moved the rating from {older[2]} to {newer[2]}.")
    return CLEAR


def robust_zscore(value: float, history: list[float]) -> float:
    """(value − median) / (1.4826 · MAD): a z-score that a few past outliers cannot hide."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history) * 1.4826
    if mad <= 0:
        mad = statistics.fmean(abs(x - median) for x in history) * 1.2533
    if mad <= 0:
        return math.inf if value > median else 0.0
    return (value - median) / mad


def _anomaly(params: AnomalyParams, subject: Subject, facts: Facts) -> Outcome:
    event = subject.event
    if event is None or event["type"] != params.event_type:
        return None
    cid, at, pk = subject.customer_id, event["occurred_at"], event["pk"]
    past = [h for h in facts.history.get((cid, event["type"]), ()) if h[1] != pk and h[0] <= at]
    amount = _num(event.get("amount"))
    if params.anomaly == "amount_zscore":
        start = at - dt.timedelta(days=params.lookback_days)
        amounts = [h[2] for h in past if h[0] >= start]
        if amount is None or len(amounts) < params.min_history:
            return None
        z = robust_zscore(amount, amounts)
        if z < params.k:
            return CLEAR
        shown = "∞" if math.isinf(z) else f"{z:.1f}"
        return Hit(values={"amount": amount, "zscore": None if math.isinf(z) else round(z, 3),
                           "median": statistics.median(amounts), "history": len(amounts)},
                   title=f"Unusual {event['type']} amount {_fmt(amount)} (z {shown})",
                   summary=f"{_fmt(amount)} against a median of "
                           f"{_fmt(statistics.median(amounts))} over {len(amounts)} earlier "
                           f"events: robust z-score {shown} ≥ {params.k:g}.")
    if params.anomaly == "frequency":
        recent_start = at - dt.timedelta(days=params.recent_days)
        base_start = recent_start - dt.timedelta(days=params.baseline_days)
        recent = 1 + sum(1 for h in past if h[0] > recent_start)
        baseline = sum(1 for h in past if base_start < h[0] <= recent_start)
        expected = max(baseline, 1) * params.recent_days / params.baseline_days
        if recent < params.min_count or recent < params.factor * expected:
            return CLEAR
        return Hit(values={"recent": recent, "expected": round(expected, 3),
                           "recent_days": params.recent_days},
                   title=f"{event['type']} frequency {recent} in {params.recent_days} days "
                         f"(usual {expected:.1f})",
                   summary=f"{recent} {event['type']} events in {params.recent_days} days "
                           f"against {expected:.1f} expected from the {params.baseline_days} "
                           f"days before.")
    counterparty = event.get("counterparty")
    if not counterparty or amount is None:
        return None
    first = facts.first_counterparty.get((cid, counterparty), pk)
    if first < pk or amount < params.min_amount:
        return CLEAR
    return Hit(values={"counterparty": counterparty, "amount": amount},
               title=f"New counterparty {counterparty} for {_fmt(amount)}",
               summary=f"First {event['type']} with {counterparty}, for {_fmt(amount)} "
                       f"(rule: ≥ {_fmt(params.min_amount)}).")


def _lookup(event: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def condition_holds(condition: Condition, event: dict[str, Any]) -> bool:
    found, value = _lookup(event, condition.path)
    if condition.operator == "exists":
        return found and value is not None
    if not found:
        return False
    if condition.operator == "in":
        options = condition.value if isinstance(condition.value, list) else [condition.value]
        return value in options or _num(value) in {_num(o) for o in options}
    left, right = _num(value), _num(condition.value)
    if left is not None and right is not None and not isinstance(condition.value, str):
        return _compare(left, condition.operator, right)
    if condition.operator in ("==", "!="):
        return (str(value) == str(condition.value)) == (condition.operator == "==")
    return False


def _event(params: EventParams, subject: Subject) -> Outcome:
    event = subject.event
    if event is None or event["type"] != params.event_type:
        return None
    if not all(condition_holds(c, event) for c in params.conditions):
        return CLEAR
    values = {"event_type": event["type"]}
    for condition in params.conditions:
        values[condition.path] = _lookup(event, condition.path)[1]
    amount = _num(event.get("amount"))
    extra = f" for {_fmt(amount)}" if amount is not None else ""
    return Hit(values=values, title=f"{event['type']}{extra}",
               summary=f"A {event['type']} event{extra} was received.")


def expression_context(subject: Subject, names: Collection[str]) -> dict[str, Any]:
    """The variables an expression uses: each one passed is converted to CEL values on
    every evaluation, the unused ones were most of an evaluation's cost."""
    context: dict[str, Any] = {}
    for name in names:
        if name == "event":
            context["event"] = subject.event and {
                k: v for k, v in subject.event.items()
                if k not in ("pk", "occurred_at", "data_bytes")}
        elif name == "customer":
            context["customer"] = subject.customer
        elif name == "risk":
            context["risk"] = subject.risk
        elif name == "previous_risk":
            context["previous_risk"] = subject.previous_risk
        elif name == "features":
            context["features"] = subject.features
    return context


def _expression(rule: CompiledRule, subject: Subject) -> Outcome:
    assert rule.expression is not None
    if rule.expression.uses_event and (
            subject.event is None
            or subject.event.get("data_bytes", 0) > rule.expression.max_event_bytes):
        return None
    try:
        holds = rule.expression.evaluate(expression_context(subject,
                                                            rule.expression.variables))
    except (KeyError, TypeError, RuntimeError, ValueError):
        return None  # a value this customer lacks: no verdict
    if not holds:
        return CLEAR
    values: dict[str, Any] = {"expression": rule.expression.source}
    if subject.risk is not None:
        values.update(pd=subject.risk.get("pd"), tier=subject.risk.get("tier"))
    return Hit(values=values, title=rule.name,
               summary=f"The condition {rule.expression.source} holds.")
