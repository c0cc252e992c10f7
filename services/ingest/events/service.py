"""Storing CloudEvents: validate, resolve the customer, de-duplicate on (source, id), write the
whole batch set-based, and enqueue scoring and alerts work in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from services.ingest.customers.service import upsert_lenient
from services.ingest.events import repository
from services.ingest.events.cloudevents import EventInvalid, NewEvent, parse_event
from shared.models import utcnow
from shared.queue import enqueue_batch
from shared.topics import ALERTS_EVENT, SCORING_RESCORE, has_consumer

Status = Literal["accepted", "duplicate", "rejected"]
PROFILE_TYPES = frozenset({"customer.created", "customer.updated"})


@dataclass
class EventOutcome:
    index: int
    status: Status
    id: str | None = None
    source: str | None = None
    customer_id: str | None = None
    event_pk: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def ingest_events(
    session: Session, *, items: Sequence[Any], received_at: dt.datetime | None = None,
    field_prefix: bool = True,
) -> list[EventOutcome]:
    """Store each valid event once; one outcome per item, in the order given.

    Invalid items are rejected with their field errors and do not stop the others.
    """
    now = received_at or utcnow()
    outcomes: list[EventOutcome] = []
    valid: list[tuple[EventOutcome, NewEvent]] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        try:
            event = parse_event(item, received_at=now,
                                prefix=f"[{index}]." if field_prefix else "")
        except EventInvalid as exc:
            outcomes.append(EventOutcome(index, "rejected", errors=exc.errors,
                                         **_identity(item)))
            continue
        outcome = EventOutcome(index, "accepted", id=event.event_id, source=event.source)
        outcomes.append(outcome)
        key = (event.source, event.event_id)
        if key in seen:
            outcome.status = "duplicate"
            continue
        seen.add(key)
        valid.append((outcome, event))
    if valid:
        _store(session, valid, now=now)
        _apply_profiles(session, valid)
    return outcomes


def _apply_profiles(session: Session, valid: list[tuple[EventOutcome, NewEvent]]) -> None:
    """``customer.created`` / ``customer.updated`` carry profile changes from a CRM: what
    validates of their ``data`` is upserted, versioned by the event's time (so a late,
    older event never overwrites a newer profile)."""
    for outcome, event in valid:
        if (event.type in PROFILE_TYPES and outcome.status == "accepted"
                and event.customer_id and isinstance(event.data, dict)):
            upsert_lenient(session, customer_id=event.customer_id, fields=event.data,
                           version=event.occurred_at)


def _identity(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {}
    return {k: v for k in ("id", "source") if isinstance(v := item.get(k), str)}


def _store(session: Session, valid: list[tuple[EventOutcome, NewEvent]], *,
           now: dt.datetime) -> None:
    with_subject = [event for _, event in valid if event.subject is not None]
    stored = repository.store_events(
        session, with_subject, now=now, rescore_topic=SCORING_RESCORE,
        rescore_payload={"trigger": "event"},
        # Until the alerts worker exists nobody would take these (shared/topics.py).
        alerts_topic=ALERTS_EVENT if has_consumer(ALERTS_EVENT) else None)
    _store_outlooks(session, valid, now=now)
    for outcome, event in valid:
        if event.subject is None:
            continue  # an industry-wide outlook, settled by _store_outlooks
        customer_id, pk = stored[(event.source, event.event_id)]
        event.customer_id = outcome.customer_id = customer_id
        outcome.event_pk = pk
        if pk is None:
            outcome.status = "duplicate"


def _store_outlooks(session: Session, valid: list[tuple[EventOutcome, NewEvent]], *,
                    now: dt.datetime) -> None:
    """Industry outlooks also go to their own table; subject-less ones only there."""
    rows = {}
    for _, event in valid:
        if event.outlook is not None:
            key = (event.source, event.outlook.industry, event.occurred_at.date())
            rows[key] = {"source": key[0], "industry": key[1], "as_of": key[2],
                         "index_value": event.outlook.index, "received_at": now}
    if not rows:
        return
    new = repository.insert_outlooks(session, [rows[k] for k in sorted(rows)])
    # A new outlook moves the industry feature of every customer in that industry.
    industries = sorted({industry for _, industry, _ in new})
    if industries:
        affected = repository.customers_in_industries(session, industries)
        enqueue_batch(session, topic=SCORING_RESCORE, coalesce=True, now=now,
                     items=[(cid, {"trigger": "industry_outlook"}) for cid in affected])
    for outcome, event in valid:
        if event.subject is None and event.outlook is not None:
            key = (event.source, event.outlook.industry, event.occurred_at.date())
            outcome.status = "accepted" if key in new else "duplicate"
