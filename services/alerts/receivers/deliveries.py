"""Deliveries: a notification fanned out to the receivers whose filters match it, each sent
on a queue item of its own, tried again with exponential backoff, failed after the last try,
and redelivered on request.

The fan-out does no network I/O, so however slow or dead a receiver is, the alerts worker's
evaluation never waits for it; only the ``alerts.deliver`` items do, on loops of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.alerts.receivers import repository
from services.alerts.receivers.messages import message_text, sample_alert, webhook_body
from services.alerts.receivers.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    Notification,
    NotifyPayload,
    ReceiverKind,
)
from services.alerts.receivers.senders import Outcome, send_apprise, send_webhook
from services.alerts.receivers.service import get as get_receiver
from services.alerts.receivers.service import secret_box
from services.alerts.receivers.settings import ReceiverSettings
from shared import audit, queue
from shared.db import Database
from shared.errors import Conflict, NotFound
from shared.models import utcnow
from shared.models.notifications import DeliveryAttempt, NotificationDelivery, Receiver
from shared.topics import ALERTS_DELIVER

log = logging.getLogger("riskwatch.alerts.receivers")


# --- fan-out ---------------------------------------------------------------------------

def matches(receiver: Receiver, notice: NotifyPayload) -> bool:
    """Whether the receiver's filters let this notification through."""
    alert = notice.alert
    if alert.drill and not receiver.include_drills:
        return False
    if receiver.severities and alert.severity.value not in receiver.severities:
        return False
    if receiver.rule_ids and alert.rule_id not in receiver.rule_ids:
        return False
    return not receiver.tiers or alert.tier in receiver.tiers


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _new_delivery(session: Session, *, receiver_id: int, payload: dict[str, Any],
                  notification: str, alert_id: int | None, customer_id: str | None,
                  message_id: str, now: dt.datetime, redelivery_of: int | None = None,
                  requested_by: str | None = None) -> NotificationDelivery:
    delivery = NotificationDelivery(
        receiver_id=receiver_id, alert_id=alert_id, customer_id=customer_id,
        notification=notification, message_id=message_id, payload=payload,
        status=DeliveryStatus.PENDING.value, attempt_count=0, next_attempt_at=now,
        redelivery_of=redelivery_of, requested_by=requested_by, created_at=now,
        updated_at=now)
    session.add(delivery)
    return delivery


def _enqueue(session: Session, delivery: NotificationDelivery,
             delay: dt.timedelta | None = None) -> None:
    queue.enqueue(session, topic=ALERTS_DELIVER, key=str(delivery.receiver_id),
                  payload={"delivery_id": delivery.id}, delay=delay)


def fan_out(session: Session, payloads: Sequence[dict[str, Any]]) -> list[int]:
    """One delivery per matching enabled receiver and notification, each enqueued to be
    sent; the receivers are read once for the whole batch. Returns the delivery ids."""
    notices = [(NotifyPayload.model_validate(p), p) for p in payloads]
    receivers = repository.enabled(session)
    now = utcnow()
    created: list[NotificationDelivery] = []
    for notice, raw in notices:
        for receiver in receivers:
            if matches(receiver, notice):
                created.append(_new_delivery(
                    session, receiver_id=receiver.id, payload=raw,
                    notification=notice.notification, alert_id=notice.alert.id,
                    customer_id=notice.alert.customer_id, message_id=new_message_id(),
                    now=now))
    session.flush()
    for delivery in created:
        _enqueue(session, delivery)
    return [d.id for d in created]


# --- one try -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What one try needs, read before any network I/O (the secret only in memory)."""

    delivery_id: int
    attempt: int  # the number this try will have
    kind: ReceiverKind
    url: str | None
    secret: str
    message_id: str
    payload: dict[str, Any]
    created_at: dt.datetime


def load_job(session: Session, settings: ReceiverSettings, delivery_id: int) -> Job | None:
    """The next try of a pending delivery whose receiver is enabled, else None."""
    delivery = repository.get_delivery(session, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    receiver = repository.get(session, delivery.receiver_id)
    if receiver is None or not receiver.enabled:
        return None
    return Job(delivery_id=delivery.id, attempt=delivery.attempt_count + 1,
               kind=ReceiverKind(receiver.kind), url=receiver.url,
               secret=secret_box(settings).open(receiver.secret_ciphertext),
               message_id=delivery.message_id, payload=delivery.payload,
               created_at=delivery.created_at)


def send(job: Job, settings: ReceiverSettings) -> Outcome:
    timeout = settings.delivery_timeout_seconds
    if job.kind is ReceiverKind.WEBHOOK:
        assert job.url is not None
        return send_webhook(job.url, secret=job.secret, message_id=job.message_id,
                            body=webhook_body(job.payload, created_at=job.created_at),
                            timeout=timeout)
    text = message_text(job.payload)
    return send_apprise(job.secret, title=text.title, body=text.body,
                        markdown=job.kind is ReceiverKind.CHAT, timeout=timeout)


def backoff(settings: ReceiverSettings, failed_attempt: int) -> dt.timedelta:
    """Exponential backoff with jitter (50-100 % of the doubled wait, so receivers coming
    back are not hit by every pending delivery at once), capped."""
    ceiling = min(settings.delivery_backoff_max_seconds,
                  settings.delivery_backoff_base_seconds * 2 ** (failed_attempt - 1))
    return dt.timedelta(seconds=ceiling * (0.5 + random.random() / 2))


def record(session: Session, settings: ReceiverSettings, job: Job, outcome: Outcome, *,
           retry: bool = True) -> NotificationDelivery | None:
    """Store the try and move the delivery on: delivered, tried again later (a new queue
    item, delayed), or failed after the last try. None when another worker already
    recorded this try (a lease that ran out while sending)."""
    delivery = repository.get_delivery(session, job.delivery_id, for_update=True)
    if (delivery is None or delivery.status != DeliveryStatus.PENDING
            or delivery.attempt_count != job.attempt - 1):
        return None
    now = utcnow()
    again = (not outcome.ok and retry and job.attempt < settings.delivery_max_attempts)
    retry_at = now + backoff(settings, job.attempt) if again else None
    session.add(DeliveryAttempt(
        delivery_id=delivery.id, number=job.attempt, started_at=outcome.started_at,
        duration_ms=outcome.duration_ms, ok=outcome.ok, status_code=outcome.status_code,
        response=outcome.response, error=outcome.error, retry_at=retry_at))
    delivery.attempt_count = job.attempt
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.next_attempt_at = retry_at
    delivery.updated_at = now
    if outcome.ok:
        delivery.status, delivery.finished_at = DeliveryStatus.DELIVERED.value, now
    elif again:
        assert retry_at is not None
        _enqueue(session, delivery, delay=retry_at - now)
    else:
        delivery.status, delivery.finished_at = DeliveryStatus.FAILED.value, now
        log.warning("delivery %s to receiver %s failed after %s attempts", delivery.id,
                    delivery.receiver_id, job.attempt)
    session.flush()
    return delivery


def deliver(session: Session, settings: ReceiverSettings, delivery_id: int) -> None:
    """Handle one ``alerts.deliver`` item. The delivery is read in a short transaction of
    its own and sent with none open, so no lock or connection is held while a receiver
    answers (or fails to); the try is recorded in ``session``, with the item's ack."""
    with Session(bind=session.get_bind()) as reader, reader.begin():
        job = load_job(reader, settings, delivery_id)
    if job is None:
        _close_if_receiver_disabled(session, delivery_id)
        return
    outcome = send(job, settings)
    record(session, settings, job, outcome)


def _close_if_receiver_disabled(session: Session, delivery_id: int) -> None:
    """A receiver switched off while its deliveries waited: they fail (and can be
    redelivered once it is back on) rather than stay pending for ever."""
    delivery = repository.get_delivery(session, delivery_id, for_update=True)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return
    receiver = repository.get(session, delivery.receiver_id)
    if receiver is not None and not receiver.enabled:
        now = utcnow()
        delivery.status, delivery.finished_at, delivery.updated_at = (
            DeliveryStatus.FAILED.value, now, now)
        delivery.next_attempt_at = None
        delivery.last_error = "the receiver was disabled before this delivery was sent"


# --- on request ----------------------------------------------------------------------------

def send_test(db: Database, settings: ReceiverSettings, *,
              receiver_id: int, actor: str) -> DeliveryOut:
    """Send a test notification now (one try, no retries) and report what came back."""
    with db.transaction() as session:
        receiver = get_receiver(session, receiver_id)
        now = utcnow()
        delivery = _new_delivery(
            session, receiver_id=receiver.id, alert_id=None, customer_id=None,
            payload={"notification": Notification.TEST.value, "alert": sample_alert(now)},
            notification=Notification.TEST.value, message_id=new_message_id(), now=now,
            requested_by=actor)
        session.flush()
        audit.record(session, actor=actor, action="receiver.tested", subject_type="receiver",
                     subject_id=str(receiver.id), details={"delivery_id": delivery.id})
        job = Job(delivery_id=delivery.id, attempt=1, kind=ReceiverKind(receiver.kind),
                  url=receiver.url,
                  secret=secret_box(settings).open(receiver.secret_ciphertext),
                  message_id=delivery.message_id, payload=delivery.payload, created_at=now)
    outcome = send(job, settings)
    with db.transaction() as session:
        recorded = record(session, settings, job, outcome, retry=False)
        assert recorded is not None
        return _out(recorded, repository.attempts_of(session, [recorded.id])[recorded.id])


def redeliver(session: Session, *, receiver_id: int, delivery_id: int,
              actor: str) -> DeliveryOut:
    """A new delivery of the same notification (same webhook-id, a fresh set of tries),
    sent by the worker; refused while the original is still being tried."""
    receiver = get_receiver(session, receiver_id)
    original = repository.get_delivery(session, delivery_id)
    if original is None or original.receiver_id != receiver.id:
        raise NotFound(f"No delivery {delivery_id} for receiver {receiver_id}.")
    if original.status == DeliveryStatus.PENDING:
        raise Conflict(f"Delivery {delivery_id} is still being tried "
                       f"(next at {original.next_attempt_at}).")
    if not receiver.enabled:
        raise Conflict(f"Receiver {receiver_id} is disabled; enable it first.")
    copy = _new_delivery(session, receiver_id=receiver.id, payload=original.payload,
                         notification=original.notification, alert_id=original.alert_id,
                         customer_id=original.customer_id, message_id=original.message_id,
                         now=utcnow(), redelivery_of=original.id, requested_by=actor)
    session.flush()
    _enqueue(session, copy)
    audit.record(session, actor=actor, action="delivery.redelivered",
                 subject_type="receiver", subject_id=str(receiver.id),
                 details={"delivery_id": copy.id, "redelivery_of": original.id,
                          "alert_id": original.alert_id})
    return _out(copy, [])


# --- reading --------------------------------------------------------------------------------

def _out(delivery: NotificationDelivery, attempts: list[DeliveryAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id, receiver_id=delivery.receiver_id, alert_id=delivery.alert_id,
        customer_id=delivery.customer_id, notification=Notification(delivery.notification),
        message_id=delivery.message_id, status=DeliveryStatus(delivery.status),
        attempt_count=delivery.attempt_count, last_status_code=delivery.last_status_code,
        last_error=delivery.last_error, next_attempt_at=delivery.next_attempt_at,
        redelivery_of=delivery.redelivery_of, requested_by=delivery.requested_by,
        created_at=delivery.created_at, updated_at=delivery.updated_at,
        finished_at=delivery.finished_at,
        attempts=[AttemptOut(number=a.number, started_at=a.started_at,
                             duration_ms=a.duration_ms, ok=a.ok, status_code=a.status_code,
                             response=a.response, error=a.error, retry_at=a.retry_at)
                  for a in attempts])


def page(session: Session, *, receiver_id: int | None = None, alert_id: int | None = None,
         status: DeliveryStatus | None = None, before: int | None = None,
         limit: int) -> DeliveryPage:
    if receiver_id is not None:
        get_receiver(session, receiver_id)
    rows = repository.deliveries(session, receiver_id=receiver_id, alert_id=alert_id,
                                 status=status.value if status else None, before=before,
                                 limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    attempts = repository.attempts_of(session, [d.id for d in rows])
    return DeliveryPage(items=[_out(d, attempts[d.id]) for d in rows],
                        next_cursor=rows[-1].id if more and rows else None)
