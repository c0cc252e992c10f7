"""Evaluating the enabled rules for a claimed batch of triggers (stored events, score
changes), set-based: the batch's customers, risks, features and history are read once, every
rule is evaluated in memory, and the hits are written in one pass (open or update, with
cooldowns and silences applied, notifications enqueued in the same transaction)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from services.alerts.alerts import notify
from services.alerts.alerts import repository as alerts_repository
from services.alerts.evaluation import repository
from services.alerts.evaluation.conditions import (
    CLEAR,
    Facts,
    Hit,
    Subject,
    evaluate,
)
from services.alerts.playbooks import runs
from services.alerts.rules import repository as rules_repository
from services.alerts.rules.compiled import CompiledRule, compile_row
from services.alerts.rules.schemas import WINDOW_INDICATORS, AnomalyParams, ChangeParams
from services.alerts.settings import get_alerts_settings
from services.alerts.silences import matching
from shared import audit, queue
from shared.db import Database
from shared.models import utcnow
from shared.models.alerts import AlertRule, AlertStatus, RuleKind
from shared.topics import ALERTS_EVENT, ALERTS_SCORE_CHANGED

log = logging.getLogger("riskwatch.alerts.evaluation")
WORKER_ACTOR = "alerts worker"

# Keyed by (id, version, updated_at): the timestamp makes a reused id (a test database
# emptied between tests) a different key.
_compiled: dict[tuple[int, int, dt.datetime], CompiledRule] = {}
_compiled_lock = threading.Lock()


def compiled_rules(rows: Sequence[AlertRule]) -> list[CompiledRule]:
    """Each rule compiled once per version per process (CEL compilation is not free)."""
    rules: list[CompiledRule] = []
    for row in rows:
        key = (row.id, row.version, row.updated_at)
        with _compiled_lock:
            rule = _compiled.get(key)
        if rule is None:
            try:
                rule = compile_row(row)
            except Exception:  # noqa: BLE001 - a rule stored by an older release: skip it
                log.exception("alert rule %s v%s does not compile; skipped", row.id,
                              row.version)
                continue
            with _compiled_lock:
                _compiled[key] = rule
        rules.append(rule)
    return rules


@dataclass
class PairHits:
    """The hits of one rule on one customer within a batch."""

    rule: CompiledRule
    subject: Subject
    first: Hit
    last: Hit
    count: int = 1
    event_pk: int | None = None


@dataclass
class Evaluation:
    evaluations: int = 0
    hits: dict[tuple[int, str], PairHits] = field(default_factory=dict)
    # Pairs whose last verdict in the batch was "clear" (stateful rules only).
    clear: set[tuple[int, str]] = field(default_factory=set)


def needed_facts(session: Session, rules: Sequence[CompiledRule], subjects: Sequence[Subject],
                 now: dt.datetime) -> Facts:
    """Read the history the rules need for the batch's customers: one query per need."""
    facts = Facts()
    ids = sorted({s.customer_id for s in subjects})
    if not ids:
        return facts
    windows: set[tuple[str, int]] = set()
    score_windows: set[int] = set()
    anomaly_types: set[str] = set()
    anomaly_days = 0
    need_ratings = need_counterparties = False
    for rule in rules:
        params = rule.params
        if rule.kind == RuleKind.THRESHOLD and params.indicator in WINDOW_INDICATORS:
            windows.add((WINDOW_INDICATORS[params.indicator], params.window_days))
        elif isinstance(params, ChangeParams):
            if params.change == "rating_down":
                need_ratings = True
            else:
                score_windows.add(params.window_days)
        elif isinstance(params, AnomalyParams):
            if params.anomaly == "new_counterparty":
                need_counterparties = True
            else:
                assert params.event_type is not None
                anomaly_types.add(params.event_type)
                anomaly_days = max(anomaly_days, params.lookback_days
                                   if params.anomaly == "amount_zscore"
                                   else params.recent_days + params.baseline_days)
    repository.window_counts(session, facts, ids, windows, now)
    repository.score_windows(session, facts, ids, score_windows, now)
    if need_ratings:
        repository.ratings(session, facts, ids)
    events = [s.event for s in subjects if s.event is not None]
    if anomaly_types and events:
        event_ids = sorted({e["customer_id"] for e in events if e["type"] in anomaly_types})
        if event_ids:
            earliest = min(e["occurred_at"] for e in events)
            repository.history(session, facts, event_ids, anomaly_types,
                               earliest - dt.timedelta(days=anomaly_days))
    if need_counterparties:
        repository.first_counterparties(session, facts, {
            (e["customer_id"], e["counterparty"]) for e in events if e.get("counterparty")})
    return facts


def subjects_for(session: Session, items: Sequence[queue.ClaimedItem],
                 now: dt.datetime) -> list[Subject]:
    ids = sorted({item.key for item in items})
    customers, risks = repository.customers_and_risks(session, ids, now)
    pks = [int(item.payload["event_pk"]) for item in items
           if item.topic == ALERTS_EVENT and str(item.payload.get("event_pk", "")).isdigit()]
    events = repository.events(session, pks) if pks else {}
    subjects: list[Subject] = []
    for item in items:
        customer = customers.get(item.key)
        if customer is None:
            continue  # deleted since: nothing to alert on
        risk, reasons, features = risks.get(item.key, (None, [], {}))
        if item.topic == ALERTS_SCORE_CHANGED:
            payload = item.payload
            previous = (None if payload.get("previous_pd") is None else
                        {"pd": payload.get("previous_pd"), "tier": payload.get("previous_tier")})
            hit_key = str(payload.get("scored_at") or item.id)
            subject = Subject(customer_id=item.key, trigger="score",
                              hit_key=hit_key if hit_key.startswith("sweep:")
                              else f"score:{hit_key}",
                              at=now, customer=customer, risk=risk, previous_risk=previous,
                              features=features)
        else:
            event = events.get(int(item.payload.get("event_pk") or 0))
            if event is None or event["customer_id"] != item.key:
                continue
            subject = Subject(customer_id=item.key, trigger="event",
                              hit_key=f"event:{event['pk']}", at=now, customer=customer,
                              risk=risk, previous_risk=None, features=features, event=event)
        subject.reasons = reasons
        subjects.append(subject)
    return subjects


def evaluate_subjects(rules: Sequence[CompiledRule], subjects: Sequence[Subject],
                      facts: Facts) -> Evaluation:
    """Every rule in scope on every subject, in memory (the bench's ceiling runs this)."""
    result = Evaluation()
    for subject in subjects:
        industry = subject.customer.get("industry")
        tier = subject.tier
        for rule in rules:
            if not rule.in_scope(subject.customer_id, tier, industry):
                continue
            result.evaluations += 1
            outcome = evaluate(rule, subject, facts)
            pair = (rule.id, subject.customer_id)
            if isinstance(outcome, Hit):
                result.clear.discard(pair)
                found = result.hits.get(pair)
                if found is None:
                    result.hits[pair] = PairHits(
                        rule, subject, outcome, outcome,
                        event_pk=subject.event["pk"] if subject.event else None)
                else:
                    found.last, found.subject, found.count = outcome, subject, found.count + 1
                    if subject.event is not None:
                        found.event_pk = subject.event["pk"]
            elif outcome is CLEAR and rule.stateful:
                result.clear.add(pair)
    return result


def evaluate_items(session: Session, items: Sequence[queue.ClaimedItem], *,
                   now: dt.datetime | None = None, stateful_only: bool = False) -> Evaluation:
    """The worker's batch handler body: evaluate and store (flush only)."""
    now = now or utcnow()
    rules = compiled_rules(rules_repository.enabled_rules(session))
    if stateful_only:
        rules = [rule for rule in rules if rule.stateful]
    subjects = subjects_for(session, items, now)
    if not rules or not subjects:
        return Evaluation()
    facts = needed_facts(session, rules, subjects, now)
    result = evaluate_subjects(rules, subjects, facts)
    store(session, result, now=now)
    return result


def sweep(db: Database, *, now: dt.datetime | None = None) -> int:
    """Evaluate the state rules for every scored customer, a page per transaction: days
    past due and windowed counts move with time alone, while the triggers only come with
    events and material score moves. A second replica running it too changes nothing (the
    day's hit key counts once, the open key opens once). Returns the customers swept."""
    now = now or utcnow()
    page_size = get_alerts_settings().sweep_page_size
    hit_key = f"sweep:{now.date().isoformat()}"
    after: str | None = None
    swept = 0
    while True:
        with db.transaction() as session:
            ids = repository.scored_customers(session, after=after, limit=page_size)
            if not ids:
                return swept
            items = [queue.ClaimedItem(id=0, topic=ALERTS_SCORE_CHANGED, key=cid,
                                       payload={"scored_at": hit_key}, attempts=1,
                                       coalesced=0, max_attempts=1) for cid in ids]
            evaluate_items(session, items, now=now, stateful_only=True)
        swept += len(ids)
        after = ids[-1]


def store(session: Session, result: Evaluation, *, now: dt.datetime) -> None:
    hits = result.hits
    keys = {alerts_repository.open_key(*pair): pair for pair in hits}
    customers = {pair[1] for pair in hits} | {pair[1] for pair in result.clear}
    unresolved, cooling = alerts_repository.pair_states(session, customers, now)
    silences = matching.in_force(session, now)
    rows: list[dict[str, Any]] = []
    for key in sorted(keys):
        pair = keys[key]
        if key not in unresolved and pair in cooling:
            continue  # resolved within the rule's cooldown: not again yet
        found = hits[pair]
        rule, subject = found.rule, found.subject
        silence_id = matching.covering(silences, rule_id=rule.id,
                                       customer_id=subject.customer_id, tier=subject.tier,
                                       severity=rule.severity)
        rows.append({
            "rule_id": rule.id, "rule_version": rule.version,
            "customer_id": subject.customer_id, "open_key": key,
            "status": AlertStatus.OPEN.value, "severity": rule.severity,
            "kind": rule.kind.value, "title": found.first.title[:500],
            "summary": found.first.summary, "values": found.first.values,
            "reasons": subject.reasons,
            "last_values": found.last.values, "tier": subject.tier,
            "hit_count": found.count, "last_hit_key": subject.hit_key,
            "event_pk": found.event_pk, "opened_at": now, "last_seen_at": now,
            "clear_since": None, "silenced": silence_id is not None,
            "silence_id": silence_id,
            "drill": is_drill(subject.customer),
            "last_notified_at": None if silence_id is not None else now,
            "updated_at": now,
        })
    written = alerts_repository.upsert_hits(session, rows)
    by_key = {row["open_key"]: row for row in rows}
    clear_keys = {alerts_repository.open_key(*pair) for pair in result.clear}
    alerts_repository.mark_clear(session, (clear_keys & unresolved) - set(by_key), now)
    opened: list[tuple[str, dict[str, Any]]] = []
    opened_ids: list[int] = []
    new_alerts: list[runs.OpenedAlert] = []
    for alert_id, key, opened_at, _hit_count in written:
        if opened_at != now:
            continue  # a repeat hit on an alert already open
        row = by_key[key]
        found = hits[keys[key]]
        opened_ids.append(alert_id)
        message = notify.message(
            _RowView(id=alert_id, **row), notify.Notification.OPENED,
            rule_name=found.rule.name, customer_name=found.subject.customer.get("name"))
        if not row["silenced"]:
            opened.append((row["customer_id"], message))
        event = found.subject.event
        new_alerts.append(runs.OpenedAlert(
            alert_id=alert_id, rule_id=row["rule_id"], severity=row["severity"],
            tier=row["tier"], customer_id=row["customer_id"],
            customer_owner=found.subject.customer.get("owner"),
            event_type=event["type"] if event else None, drill=row["drill"],
            silenced=row["silenced"], opened_at=now, snapshot=message["alert"]))
    notify.enqueue_many(session, opened, now)
    # The playbooks' runs start in the transaction that opens their alert: an alert is
    # never open without its runs, and the unique (playbook, alert) keeps it to one each.
    runs.start_runs(session, new_alerts, now=now)
    if opened_ids:
        # One audit entry per batch, naming every alert it opened: the chain's lock is
        # serial, and an entry per alert made it the batch's bottleneck. Taken last, after
        # every alert row this batch locks, so replicas never wait in opposite orders.
        audit.record(session, actor=WORKER_ACTOR, action="alerts.opened",
                     subject_type="alert", subject_id=str(min(opened_ids)),
                     details={"alert_ids": sorted(opened_ids)})


def is_drill(customer: dict[str, Any]) -> bool:
    """A drill's synthetic customer (flagged by the drill that made it; the ``drill``
    attribute is the older mark a CRM import may carry)."""
    return bool(customer.get("is_drill")) or bool(
        (customer.get("attributes") or {}).get("drill"))


class _RowView:
    """Attribute access over an inserted row (what the notification snapshot reads)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
