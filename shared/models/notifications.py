"""Tables owned by the alerts service's receivers: where notifications go, and each delivery
with its attempts.

A delivery is one notification (an alert opened, repeated, resolved, reopened, or a test) for
one receiver; each try to send it is a ``delivery_attempt`` row. The delivery holds the state
a worker and an operator act on (pending / delivered / failed, when the next try is due), so
retrying, redelivering and listing are one-row reads and writes; the attempts are an
append-only history of what each try got back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId


class Receiver(Base):
    """A place notifications go: a signed webhook, an e-mail server, or a chat tool (an
    Apprise URL), with the filters that choose which alerts it hears about."""

    __tablename__ = "receiver"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | email | chat
    # The webhook endpoint; None for e-mail and chat, whose whole URL is the secret.
    url: Mapped[str | None] = mapped_column(String(2048))
    # What answers may show of an e-mail or chat target: Apprise's privacy form of the URL.
    display_target: Mapped[str | None] = mapped_column(String(2048))
    # Fernet token of the webhook's whsec_ signing secret, or of the Apprise URL.
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # Filters: an empty list matches everything.
    severities: Mapped[list[str]] = mapped_column(JsonDoc)
    rule_ids: Mapped[list[int]] = mapped_column(JsonDoc)
    tiers: Mapped[list[str]] = mapped_column(JsonDoc)
    include_drills: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class NotificationDelivery(Base):
    """One notification for one receiver, tried until delivered or out of attempts."""

    __tablename__ = "notification_delivery"
    __table_args__ = (Index(None, "receiver_id", "id"), Index(None, "alert_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    receiver_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("receiver.id", ondelete="CASCADE"))
    # No foreign key: the receivers read only the snapshot the alert was notified with.
    alert_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[str | None] = mapped_column(String(128))
    notification: Mapped[str] = mapped_column(String(16))  # opened|repeat|resolved|reopened|test
    # Standard Webhooks' webhook-id: the same for every attempt and every redelivery of
    # this notification, so a receiver can drop what it already has.
    message_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    redelivery_of: Mapped[int | None] = mapped_column(
        BigId,
        ForeignKey("notification_delivery.id", ondelete="SET NULL"))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class DeliveryAttempt(Base):
    """One try at sending a delivery: what came back and how long it took."""

    __tablename__ = "delivery_attempt"

    delivery_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("notification_delivery.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    # At most 2 KB of what the receiver answered (webhooks) or reported (Apprise).
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # When the next try is due; None when this attempt was the last.
    retry_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
