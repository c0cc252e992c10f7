"""Receivers in and out (secrets go in, never out), deliveries out, and the alert snapshot
the alerts core hands over on ``alerts.notify``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.validation import RowId, SafeModel


class ReceiverKind(StrEnum):
    WEBHOOK = "webhook"  # JSON POST signed per Standard Webhooks
    EMAIL = "email"  # an Apprise mailto:// or mailtos:// URL
    CHAT = "chat"  # any other Apprise URL: Slack, Teams, DingTalk, WeCom, Feishu, ...


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Notification(StrEnum):
    OPENED = "opened"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    TEST = "test"  # POST /v1/receivers/{id}/test
    # A playbook's run on the alert (services/alerts/playbooks/runs.py).
    RUN_STARTED = "run_started"
    STEP_OVERDUE = "step_overdue"
    RUN_COMPLETED = "run_completed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


Tier = Literal["low", "medium", "high"]
ReceiverName = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                                pattern=r"^[^\s/][^/]*$")]
MAIL_SCHEMES = frozenset({"mailto", "mailtos"})
# Standard Webhooks: secrets of 24 to 64 random bytes, sent as whsec_<base64>.
SECRET_BYTES = (24, 64)


def webhook_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; receivers authenticate the signature instead"
    return None


def webhook_secret_problem(secret: str) -> str | None:
    if not secret.startswith("whsec_"):
        return "must be whsec_ followed by base64"
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return "must be whsec_ followed by base64"
    if not SECRET_BYTES[0] <= len(raw) <= SECRET_BYTES[1]:
        return f"must decode to {SECRET_BYTES[0]} to {SECRET_BYTES[1]} bytes"
    return None


class Filters(SafeModel):
    """Which alerts a receiver hears about; an empty list matches every value."""

    model_config = ConfigDict(extra="forbid")

    severities: list[Severity] = Field(default_factory=list, max_length=3)
    rule_ids: list[RowId] = Field(default_factory=list, max_length=1000)
    tiers: list[Tier] = Field(
        default_factory=list, max_length=3,
        description="the customer's tier when the alert was notified; an alert on a customer "
                    "without a tier matches only an empty list")

    @field_validator("severities", "rule_ids", "tiers")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


class ReceiverIn(SafeModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "risk-desk-webhook", "kind": "webhook",
         "url": "https://hooks.example.com/riskwatch",
         "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=",
         "filters": {"severities": ["critical", "warning"], "tiers": ["high"]}},
        {"name": "credit-team-mail", "kind": "email",
         "apprise_url": "mailtos://alerts:app-password@smtp.example.com:587"
                        "?from=riskwatch@example.com&to=credit@example.com",
         "filters": {"severities": ["critical"]}},
        {"name": "dingtalk-risk-group", "kind": "chat",
         "apprise_url": "dingtalk://access-token/", "include_drills": True}]})

    name: ReceiverName
    kind: ReceiverKind
    url: str | None = Field(None, max_length=2048,
                            description="webhook: the endpoint notifications are POSTed to")
    secret: str | None = Field(None, max_length=200,
                               description="webhook: the whsec_<base64> signing secret "
                                           "(24-64 bytes); stored encrypted, never returned")
    apprise_url: str | None = Field(
        None, max_length=2048,
        description="email: an Apprise mailto:// or mailtos:// URL; chat: any other Apprise "
                    "URL (slack://, msteams://, dingtalk://, wecombot://, feishu://, ...). "
                    "It carries credentials, so it is stored encrypted and only its masked "
                    "form is returned")
    filters: Filters = Field(default_factory=Filters)
    include_drills: bool = Field(False, description="also notify alerts on drill customers")
    enabled: bool = True


class ReceiverPatch(SafeModel):
    """Changes to a receiver; a field left out keeps its value. The kind cannot change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"enabled": False}, {"secret": "whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24tMTIzNDU2Nzg="}]})

    name: ReceiverName | None = None
    url: str | None = Field(None, max_length=2048)
    secret: str | None = Field(None, max_length=200)
    apprise_url: str | None = Field(None, max_length=2048)
    filters: Filters | None = None
    include_drills: bool | None = None
    enabled: bool | None = None


class ReceiverOut(BaseModel):
    id: int
    name: str
    kind: ReceiverKind
    url: str | None = Field(description="webhook endpoint")
    target: str | None = Field(description="e-mail or chat: the Apprise URL, secrets masked")
    secret_set: bool = Field(description="a secret (or Apprise URL) is stored; it is never "
                                         "returned")
    filters: Filters
    include_drills: bool
    enabled: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AttemptOut(BaseModel):
    number: int
    started_at: dt.datetime
    duration_ms: int
    ok: bool
    status_code: int | None = Field(description="webhook: the HTTP status answered")
    response: str | None = Field(description="at most 2 KB of the answer")
    error: str | None
    retry_at: dt.datetime | None = Field(description="when the next try is due, if any")


class DeliveryOut(BaseModel):
    id: int
    receiver_id: int
    alert_id: int | None
    customer_id: str | None
    notification: Notification
    message_id: str = Field(description="webhook-id: the same for every try and redelivery")
    status: DeliveryStatus
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    redelivery_of: int | None
    requested_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: int | None = Field(description="pass as `before` for the next (older) page")


class AlertSnapshot(BaseModel):
    """The part of the ``alerts.notify`` payload receivers decide on (the contract's alert
    object; other fields are passed through to receivers untouched)."""

    model_config = ConfigDict(extra="allow")

    id: int
    rule_id: int | None = None
    severity: Severity
    customer_id: str | None = None
    tier: str | None = None
    drill: bool = False


class NotifyPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    notification: Literal["opened", "repeat", "resolved", "reopened", "run_started",
                          "step_overdue", "run_completed"]
    alert: AlertSnapshot
