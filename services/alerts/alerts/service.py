"""The alert lifecycle (open → acknowledged → resolved, reopen), assignment and comments,
each transition audited; and the worker's maintenance: resolving alerts that stayed clear,
re-notifying open ones, lifting ended silences."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from services.alerts.alerts import notify, repository
from services.alerts.alerts.schemas import AlertFilter, AlertOut, AlertPage, CommentOut, Counts
from services.alerts.silences import matching
from shared import audit
from shared.db import Database
from shared.errors import BadRequest, Conflict, NotFound
from shared.models import utcnow
from shared.models.alerts import Alert, AlertRule, AlertStatus, Resolution

WORKER_ACTOR = "alerts worker"
MAINTENANCE_BATCH = 500


def _audit(session: Session, alert: Alert, *, actor: str, action: str,
           **details: Any) -> None:
    audit.record(session, actor=actor, action=f"alert.{action}", subject_type="alert",
                 subject_id=str(alert.id), details={"rule_id": alert.rule_id,
                                                    "customer_id": alert.customer_id,
                                                    "status": alert.status, **details})


def _notify(session: Session, alert: Alert, notification: notify.Notification) -> None:
    """Enqueue the notification unless a silence covers the alert now (one created after
    the alert opened included)."""
    if alert.silenced or matching.covering(
            matching.in_force(session, utcnow()), rule_id=alert.rule_id,
            customer_id=alert.customer_id, tier=alert.tier, severity=alert.severity):
        return
    rules, customers = repository.names(session, [alert.rule_id], [alert.customer_id])
    notify.enqueue(session, alert, notification, rule_name=rules.get(alert.rule_id, ""),
                   customer_name=customers.get(alert.customer_id))


def _locked(session: Session, alert_id: int) -> Alert:
    alert = repository.get(session, alert_id, lock=True)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def out(session: Session, alert: Alert, *, with_comments: bool = False) -> AlertOut:
    rules, customers = repository.names(session, [alert.rule_id], [alert.customer_id])
    comments = ([CommentOut.model_validate(c) for c in repository.comments(session, alert.id)]
                if with_comments else None)
    return AlertOut.of(alert, rule_name=rules.get(alert.rule_id, ""),
                       customer_name=customers.get(alert.customer_id), comments=comments)


def get_alert(session: Session, alert_id: int) -> AlertOut:
    alert = repository.get(session, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return out(session, alert, with_comments=True)


def acknowledge(session: Session, *, alert_id: int, actor: str) -> AlertOut:
    alert = _locked(session, alert_id)
    if alert.status != AlertStatus.OPEN:
        raise Conflict(f"Alert {alert_id} is {alert.status}; only an open alert can be "
                       "acknowledged.")
    now = utcnow()
    alert.status, alert.acknowledged_at, alert.acknowledged_by = (
        AlertStatus.ACKNOWLEDGED, now, actor)
    alert.updated_at = now
    _audit(session, alert, actor=actor, action="acknowledged")
    return out(session, alert)


def _resolve(session: Session, alert: Alert, *, actor: str, resolution: Resolution,
             now: dt.datetime, cooldown_seconds: int) -> None:
    alert.status = AlertStatus.RESOLVED
    alert.open_key = None
    alert.resolved_at, alert.resolved_by, alert.resolution = now, actor, resolution
    alert.cooldown_until = now + dt.timedelta(seconds=cooldown_seconds)
    alert.updated_at = now
    _audit(session, alert, actor=actor, action="resolved", resolution=resolution)
    _notify(session, alert, notify.Notification.RESOLVED)


def resolve(session: Session, *, alert_id: int, actor: str) -> AlertOut:
    alert = _locked(session, alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise Conflict(f"Alert {alert_id} is resolved already.")
    rule = session.get(AlertRule, alert.rule_id)
    _resolve(session, alert, actor=actor, resolution=Resolution.MANUAL, now=utcnow(),
             cooldown_seconds=rule.cooldown_seconds if rule else 0)
    session.flush()
    return out(session, alert)


def reopen(session: Session, *, alert_id: int, actor: str) -> AlertOut:
    alert = _locked(session, alert_id)
    if alert.status != AlertStatus.RESOLVED:
        raise Conflict(f"Alert {alert_id} is {alert.status}; only a resolved alert reopens.")
    key = repository.open_key(alert.rule_id, alert.customer_id)
    if repository.unresolved_keys(session, [key]):
        raise Conflict(f"Another alert of rule {alert.rule_id} on {alert.customer_id} is "
                       "open; work on that one.")
    now = utcnow()
    alert.status, alert.open_key = AlertStatus.OPEN, key
    alert.resolved_at = alert.resolved_by = alert.resolution = None
    alert.cooldown_until = alert.clear_since = None
    alert.acknowledged_at = alert.acknowledged_by = None
    alert.last_notified_at = now
    alert.updated_at = now
    session.flush()
    _audit(session, alert, actor=actor, action="reopened")
    _notify(session, alert, notify.Notification.REOPENED)
    return out(session, alert)


def assign(session: Session, *, alert_id: int, assignee: str | None, actor: str,
           if_unassigned: bool = False) -> AlertOut:
    alert = _locked(session, alert_id)
    previous = alert.assignee
    if if_unassigned and previous is not None and previous != assignee:
        raise Conflict(f"Alert {alert_id} is assigned to {previous} already.")
    alert.assignee = assignee
    alert.updated_at = utcnow()
    _audit(session, alert, actor=actor, action="assigned", assignee=assignee,
           previous_assignee=previous)
    return out(session, alert)


def comment(session: Session, *, alert_id: int, body: str, actor: str) -> CommentOut:
    alert = _locked(session, alert_id)
    created = repository.add_comment(session, alert_id=alert.id, author=actor, body=body,
                                     now=utcnow())
    _audit(session, alert, actor=actor, action="commented", comment_id=created.id)
    return CommentOut.model_validate(created)


def comments(session: Session, *, alert_id: int) -> list[CommentOut]:
    if repository.get(session, alert_id) is None:
        raise NotFound(f"No alert {alert_id}.")
    return [CommentOut.model_validate(c) for c in repository.comments(session, alert_id)]


# --- listing -----------------------------------------------------------------------------

def encode_cursor(direction: str, alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}:{alert_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        direction, _, value = raw.partition(":")
        alert_id = int(value)
        if direction not in ("before", "after") or not 0 <= alert_id < 2**63:
            raise ValueError(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadRequest("The cursor is not one this API gave out.") from None
    return direction, alert_id


def _conditions(f: AlertFilter) -> list[Any]:
    where: list[Any] = []
    if f.status:
        where.append(Alert.status.in_([s.value for s in f.status]))
    if f.severity:
        where.append(Alert.severity.in_([s.value for s in f.severity]))
    if f.rule_id is not None:
        where.append(Alert.rule_id == f.rule_id)
    if f.customer_id is not None:
        where.append(Alert.customer_id == f.customer_id)
    if f.tier is not None:
        where.append(Alert.tier == f.tier)
    if f.assignee is not None:
        where.append(Alert.assignee == f.assignee)
    if f.silenced is not None:
        where.append(Alert.silenced.is_(f.silenced))
    if f.opened_after is not None:
        where.append(Alert.opened_at >= f.opened_after)
    if f.opened_before is not None:
        where.append(Alert.opened_at < f.opened_before)
    if f.seen_after is not None:
        where.append(Alert.last_seen_at >= f.seen_after)
    return where


def list_alerts(session: Session, *, filters: AlertFilter, cursor: str | None,
                since_id: int | None, limit: int) -> AlertPage:
    """Newest first, or oldest first after ``since_id`` (to follow new alerts)."""
    where = _conditions(filters)
    before = after = None
    if cursor:
        direction, anchor = decode_cursor(cursor)
        before, after = (anchor, None) if direction == "before" else (None, anchor)
    elif since_id is not None:
        after = since_id
    rows = repository.listing(session, where=where, before_id=before, after_id=after,
                              limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    rules, customers = repository.names(session, {r.rule_id for r in rows},
                                        {r.customer_id for r in rows})
    items = [AlertOut.of(r, rule_name=rules.get(r.rule_id, ""),
                         customer_name=customers.get(r.customer_id)) for r in rows]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor("after" if after is not None else "before", rows[-1].id)
    return AlertPage(items=items, next_cursor=next_cursor)


def count_alerts(session: Session, *, filters: AlertFilter) -> Counts:
    by_status: dict[str, int] = {s.value: 0 for s in AlertStatus}
    by_severity: dict[str, int] = {"info": 0, "warning": 0, "critical": 0}
    unresolved: dict[str, int] = dict(by_severity)
    total = 0
    for status, severity, n in repository.counts(session, _conditions(filters)):
        by_status[status] = by_status.get(status, 0) + n
        by_severity[severity] = by_severity.get(severity, 0) + n
        if status != AlertStatus.RESOLVED:
            unresolved[severity] = unresolved.get(severity, 0) + n
        total += n
    return Counts(total=total, by_status=by_status, by_severity=by_severity,
                  unresolved_by_severity=unresolved)


# --- maintenance (the worker's schedule) --------------------------------------------------

def auto_resolve(session: Session, *, now: dt.datetime | None = None) -> int:
    """Resolve alerts clear (or quiet) for their rule's resolve delay; safe with several
    replicas (rows are locked, skipping those another replica holds)."""
    now = now or utcnow()
    due = repository.due_for_resolution(session, now, MAINTENANCE_BATCH)
    cooldowns = repository.cooldowns(session, {a.rule_id for a in due})
    for alert in due:
        _resolve(session, alert, actor=WORKER_ACTOR, resolution=Resolution.AUTO, now=now,
                 cooldown_seconds=cooldowns.get(alert.rule_id, 0))
    return len(due)


def repeat_notifications(session: Session, *, now: dt.datetime | None = None) -> int:
    """Re-notify open alerts whose rule's repeat interval has passed since the last one."""
    now = now or utcnow()
    due = repository.due_for_repeat(session, now, MAINTENANCE_BATCH)
    for alert in due:
        alert.last_notified_at = now
        _notify(session, alert, notify.Notification.REPEAT)
    return len(due)


def lift_ended_silences(session: Session, *, now: dt.datetime | None = None) -> int:
    """Unresolved alerts whose silence ended (and no other covers them) are notified now,
    as if they had just opened."""
    now = now or utcnow()
    silences = matching.in_force(session, now)
    lifted = 0
    for alert in repository.silenced_unresolved(session, MAINTENANCE_BATCH):
        covering = matching.covering(silences, rule_id=alert.rule_id,
                                     customer_id=alert.customer_id, tier=alert.tier,
                                     severity=alert.severity)
        if covering is not None:
            alert.silence_id = covering
            continue
        alert.silenced, alert.silence_id, alert.last_notified_at = False, None, now
        _notify(session, alert, notify.Notification.OPENED)
        lifted += 1
    return lifted


def maintain(db: Database) -> dict[str, int]:
    """One round of the worker's schedule, each step in its own transaction."""
    with db.transaction() as session:
        resolved = auto_resolve(session)
    with db.transaction() as session:
        lifted = lift_ended_silences(session)
    with db.transaction() as session:
        repeated = repeat_notifications(session)
    return {"resolved": resolved, "unsilenced": lifted, "repeated": repeated}
