"""All SQL for alerts and their comments: the worker's set-based upsert of a batch's hits,
the lifecycle updates and the API's listing and counts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from shared.db import among, dialect_insert, is_postgres, statement
from shared.models import Customer
from shared.models.alerts import Alert, AlertComment, AlertRule, AlertStatus, RuleKind


def open_key(rule_id: int, customer_id: str) -> str:
    return f"{rule_id}:{customer_id}"


def unresolved_keys(session: Session, keys: Collection[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.scalars(select(Alert.open_key).where(among(session, Alert.open_key,
                                                                  keys))))


def pair_states(session: Session, customer_ids: Collection[str], now: dt.datetime
                ) -> tuple[set[str], set[tuple[int, str]]]:
    """For these customers: the open keys of their unresolved alerts, and the (rule,
    customer) pairs cooling down after a resolution, in one query (few rows: a batch
    evaluates every rule for each customer, and most pairs have no alert)."""
    if not customer_ids:
        return set(), set()
    rows = session.execute(select(Alert.open_key, Alert.rule_id, Alert.customer_id).where(
        among(session, Alert.customer_id, customer_ids),
        or_(Alert.open_key.is_not(None), Alert.cooldown_until > now))).all()
    unresolved = {r.open_key for r in rows if r.open_key is not None}
    cooling = {(r.rule_id, r.customer_id) for r in rows if r.open_key is None}
    return unresolved, cooling


def upsert_hits(session: Session, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Open an alert per row, or count the hit on the unresolved one of its (rule, customer)
    (the unique ``open_key`` decides, so concurrent workers never open two). A hit whose key
    equals the alert's last one is a redelivery and changes nothing. Rows come sorted by
    ``open_key`` so two batches lock the same keys in the same order. Returns (id,
    open_key, opened_at, hit_count) of each row written."""
    if not rows:
        return []
    insert = dialect_insert(session)(Alert)
    excluded = insert.excluded
    stmt = insert.on_conflict_do_update(
        index_elements=[Alert.open_key],
        set_={"hit_count": Alert.hit_count + excluded.hit_count,
              "last_seen_at": excluded.last_seen_at, "last_values": excluded.last_values,
              "last_hit_key": excluded.last_hit_key, "clear_since": None,
              "event_pk": func.coalesce(excluded.event_pk, Alert.event_pk),
              "updated_at": excluded.updated_at},
        where=or_(Alert.last_hit_key.is_(None),
                  Alert.last_hit_key != excluded.last_hit_key),
    ).returning(Alert.id, Alert.open_key, Alert.opened_at, Alert.hit_count)
    if is_postgres(session):
        return _pg_upsert(session, rows)
    return list(session.execute(stmt, list(rows)).all())


_PG_COLUMNS = (
    "rule_id bigint, rule_version int, customer_id text, open_key text, status text, "
    "severity text, kind text, title text, summary text, \"values\" jsonb, reasons jsonb, "
    "last_values jsonb, tier text, hit_count int, last_hit_key text, event_pk bigint, "
    "silenced boolean, silence_id bigint, drill boolean, notified boolean")
_PG_UPSERT = f"""
INSERT INTO alert (rule_id, rule_version, customer_id, open_key, status, severity, kind, title,
                   summary, "values", reasons, last_values, tier, hit_count, last_hit_key,
                   event_pk, opened_at, last_seen_at, clear_since, silenced, silence_id, drill,
                   last_notified_at, updated_at)
SELECT rule_id, rule_version, customer_id, open_key, status, severity, kind, title, summary,
       "values", reasons, last_values, tier, hit_count, last_hit_key, event_pk, :now, :now,
       NULL, silenced, silence_id, drill, CASE WHEN notified THEN CAST(:now AS timestamptz) END,
       :now
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t({_PG_COLUMNS})
ORDER BY open_key
ON CONFLICT (open_key) DO UPDATE SET
    hit_count = alert.hit_count + excluded.hit_count, last_seen_at = excluded.last_seen_at,
    last_values = excluded.last_values, last_hit_key = excluded.last_hit_key,
    clear_since = NULL, event_pk = COALESCE(excluded.event_pk, alert.event_pk),
    updated_at = excluded.updated_at
WHERE alert.last_hit_key IS DISTINCT FROM excluded.last_hit_key
RETURNING id, open_key, opened_at, hit_count
"""


def _pg_upsert(session: Session, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """PostgreSQL: the batch's rows travel as one JSON document, unpacked server-side, in
    one statement. A round trip per hit cost more than the rest of a batch's evaluation
    together, and SQLAlchemy's multi-row forms fall back to a row at a time with ON
    CONFLICT … RETURNING (measured by bench/alerts.py)."""
    now = rows[0]["opened_at"]
    document = json.dumps([
        {**{k: v for k, v in row.items() if k not in (
            "opened_at", "last_seen_at", "clear_since", "last_notified_at", "updated_at")},
         "notified": row["last_notified_at"] is not None} for row in rows],
        separators=(",", ":"), default=str)
    return list(session.execute(statement(_PG_UPSERT), {"rows": document, "now": now}).all())


def mark_clear(session: Session, keys: Collection[str], now: dt.datetime) -> int:
    """Start the resolve-delay clock of unresolved alerts whose condition no longer holds."""
    if not keys:
        return 0
    result = session.execute(
        update(Alert).where(among(session, Alert.open_key, sorted(keys)),
                            Alert.clear_since.is_(None))
        .values(clear_since=now, updated_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _seconds_since(session: Session, column: Any, now: dt.datetime) -> ColumnElement[Any]:
    if is_postgres(session):
        return func.extract("epoch", now - column)
    return (func.julianday(now) - func.julianday(column)) * 86400.0


def due_for_resolution(session: Session, now: dt.datetime, limit: int) -> list[Alert]:
    """Unresolved alerts whose condition has been clear (stateful rules) or quiet (event
    rules) for their rule's resolve delay, locked (skipping rows another replica holds)."""
    delay = func.coalesce(AlertRule.resolve_after_seconds, 0)
    stateful = Alert.kind.in_([RuleKind.THRESHOLD, RuleKind.CHANGE, RuleKind.EXPRESSION])
    clear_for = _seconds_since(session, Alert.clear_since, now)
    quiet_for = _seconds_since(session, Alert.last_seen_at, now)
    query: Select[Alert] = (
        select(Alert).join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(Alert.open_key.is_not(None), or_(
            and_(stateful, Alert.clear_since.is_not(None), clear_for >= delay),
            and_(~stateful, quiet_for >= delay)))
        .order_by(Alert.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(of=Alert, skip_locked=True)
    return list(session.scalars(query))


def due_for_repeat(session: Session, now: dt.datetime, limit: int) -> list[Alert]:
    """Open (not acknowledged) alerts, not silenced, last notified a repeat interval ago."""
    since = _seconds_since(session, Alert.last_notified_at, now)
    query: Select[Alert] = (
        select(Alert).join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(Alert.status == AlertStatus.OPEN, Alert.silenced.is_(False),
               Alert.last_notified_at.is_not(None),
               AlertRule.repeat_interval_seconds.is_not(None),
               since >= AlertRule.repeat_interval_seconds)
        .order_by(Alert.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(of=Alert, skip_locked=True)
    return list(session.scalars(query))


def silenced_unresolved(session: Session, limit: int) -> list[Alert]:
    query: Select[Alert] = (select(Alert).where(
        Alert.open_key.is_not(None), Alert.silenced.is_(True)).order_by(Alert.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def cooldowns(session: Session, rule_ids: Collection[int]) -> dict[int, int]:
    if not rule_ids:
        return {}
    return {rule_id: seconds for rule_id, seconds in session.execute(
        select(AlertRule.id, AlertRule.cooldown_seconds).where(
            AlertRule.id.in_(list(rule_ids)))).all()}


def names(session: Session, rule_ids: Collection[int],
          customer_ids: Collection[str]) -> tuple[dict[int, str], dict[str, str | None]]:
    rules = dict(session.execute(select(AlertRule.id, AlertRule.name).where(
        AlertRule.id.in_(list(rule_ids)))).all()) if rule_ids else {}
    customers = dict(session.execute(select(Customer.customer_id, Customer.name).where(
        Customer.customer_id.in_(list(customer_ids)))).all()) if customer_ids else {}
    return rules, customers


def get(session: Session, alert_id: int, *, lock: bool = False) -> Alert | None:
    if lock:
        return session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
    return session.get(Alert, alert_id)


def listing(session: Session, *, where: list[Any], before_id: int | None,
            after_id: int | None, limit: int) -> list[Alert]:
    query = select(Alert).where(*where)
    if after_id is not None:
        return list(session.scalars(query.where(Alert.id > after_id)
                                    .order_by(Alert.id).limit(limit)))
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def counts(session: Session, where: list[Any]) -> list[tuple[str, str, int]]:
    rows = session.execute(select(Alert.status, Alert.severity, func.count())
                           .where(*where).group_by(Alert.status, Alert.severity)).all()
    return [(status, severity, int(n)) for status, severity, n in rows]


def comments(session: Session, alert_id: int) -> list[AlertComment]:
    return list(session.scalars(select(AlertComment).where(AlertComment.alert_id == alert_id)
                                .order_by(AlertComment.id)))


def add_comment(session: Session, *, alert_id: int, author: str, body: str,
                now: dt.datetime) -> AlertComment:
    comment = AlertComment(alert_id=alert_id, author=author, body=body, created_at=now)
    session.add(comment)
    session.flush()
    return comment
