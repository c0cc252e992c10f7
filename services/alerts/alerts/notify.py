"""The notification snapshot (the contract with the receivers code, which never reads the
alert table) and its enqueueing in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from shared import queue
from shared.topics import ALERTS_NOTIFY


class Notification(StrEnum):
    OPENED = "opened"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    REOPENED = "reopened"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace(
        "+00:00", "Z")


def snapshot(alert: Any, *, rule_name: str, customer_name: str | None) -> dict[str, Any]:
    """The alert as receivers see it; ``alert`` is an Alert row or anything with its
    attributes."""
    return {"id": alert.id, "rule_id": alert.rule_id, "rule_name": rule_name,
            "rule_version": alert.rule_version, "kind": alert.kind,
            "severity": alert.severity, "status": alert.status,
            "customer_id": alert.customer_id, "customer_name": customer_name,
            "tier": alert.tier, "title": alert.title, "summary": alert.summary,
            "values": alert.last_values or alert.values, "reasons": alert.reasons,
            "opened_at": _iso(alert.opened_at), "last_seen_at": _iso(alert.last_seen_at),
            "hit_count": alert.hit_count, "drill": bool(alert.drill)}


def message(alert: Any, notification: Notification, *, rule_name: str,
            customer_name: str | None) -> dict[str, Any]:
    return {"notification": notification.value,
            "alert": snapshot(alert, rule_name=rule_name, customer_name=customer_name)}


def enqueue_many(session: Session, messages: list[tuple[str, dict[str, Any]]],
                 now: dt.datetime) -> None:
    """(customer id, :func:`message`) pairs in one statement (the worker's batches)."""
    if messages:
        queue.enqueue_batch(session, topic=ALERTS_NOTIFY, items=messages, coalesce=False,
                            now=now)


def enqueue(session: Session, alert: Any, notification: Notification, *, rule_name: str,
            customer_name: str | None) -> None:
    """Never for a silenced alert: it is recorded, not notified."""
    if alert.silenced:
        return
    queue.enqueue(session, topic=ALERTS_NOTIFY, key=alert.customer_id,
                  payload=message(alert, notification, rule_name=rule_name,
                                  customer_name=customer_name))
