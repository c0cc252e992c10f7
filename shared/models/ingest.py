"""Tables owned by the ingest service: idempotency keys, webhook sources and deliveries,
and the Fxiaoke CRM poller's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow


class IdempotencyKey(Base):
    """The stored answer to a POST sent with an ``Idempotency-Key`` header, per caller."""

    __tablename__ = "idempotency_key"

    # The API key id of the caller: two callers never share a key space.
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Method and path plus a digest of the body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    # "running" until the request's own transaction stores its answer ("done").
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class WebhookDelivery(Base):
    """A delivery (or notification) an adapter has processed: CRM retries store nothing twice."""

    __tablename__ = "webhook_delivery"

    adapter: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class WebhookSource(Base):
    """A webhook sender's credentials, set through the admin API and encrypted at rest:
    generic (name = source, Standard Webhooks secrets), zoho-crm (name = channel_id, token),
    salesforce (name = OrganizationId, token)."""

    __tablename__ = "webhook_source"

    adapter: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Fernet token (AES-128-CBC + HMAC-SHA256) of the JSON list of secrets.
    secrets_ciphertext: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class FxiaokePollState(Base):
    """One Fxiaoke corp connection's poller: the corp access token it holds (encrypted, shared
    by every replica) and the lease that lets one replica poll at a time."""

    __tablename__ = "fxiaoke_poll_state"

    connection: Mapped[str] = mapped_column(String(255), primary_key=True)
    token_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class FxiaokeWatermark(Base):
    """How far the poller has read one object type: the newest ``last_modified_time`` (ms)
    applied, and the record ids applied at exactly that time (the next query includes it)."""

    __tablename__ = "fxiaoke_watermark"

    connection: Mapped[str] = mapped_column(String(255), primary_key=True)
    api_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    modified_ms: Mapped[int] = mapped_column(BigInteger)
    seen_ids: Mapped[Any] = mapped_column(JsonDoc)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
