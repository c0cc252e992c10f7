"""Tables owned by the alerts service: rules and their versions, alerts (one open per rule and
customer), their comments, and silences."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    CHANGE = "change"
    ANOMALY = "anomaly"
    EVENT = "event"
    EXPRESSION = "expression"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """How an alert was resolved: by a person, or because its condition stayed clear."""

    MANUAL = "manual"
    AUTO = "auto"


class AlertRule(Base):
    """A rule as it stands now; every change writes a new :class:`AlertRuleVersion`."""

    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # {"tiers": [...], "industries": [...], "customers": [...]}; empty lists mean everyone.
    scope: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    severity: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cooldown_seconds: Mapped[int] = mapped_column(Integer)
    resolve_after_seconds: Mapped[int] = mapped_column(Integer)
    repeat_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Set on the rules a fresh install ships with, so seeding them again changes nothing.
    builtin_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Deleted rules stay (their alerts refer to them) but never evaluate again.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class AlertRuleVersion(Base):
    """What a rule said at one version: the alert it raised points here."""

    __tablename__ = "alert_rule_version"

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Alert(Base):
    """One alert of a rule about a customer, from its first hit until it is resolved."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(None, "status", "severity"),
        Index(None, "customer_id", "opened_at"),
        Index(None, "rule_id", "customer_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id"))
    rule_version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"))
    # "<rule id>:<customer id>" while the alert is not resolved, NULL after: unique, so
    # there is one unresolved alert per (rule, customer) however many workers evaluate.
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text)
    # The values that crossed, and the customer's top risk reasons, at the first hit.
    values: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    # The values at the latest hit (a repeat hit keeps the first ones above).
    last_values: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    tier: Mapped[str | None] = mapped_column(String(16))
    hit_count: Mapped[int] = mapped_column(Integer, default=1)
    # What caused the latest hit ("event:<pk>" or "score:<iso time>"): a hit delivered
    # twice counts once.
    last_hit_key: Mapped[str | None] = mapped_column(String(100))
    event_pk: Mapped[int | None] = mapped_column(BigId)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Since when an evaluation found the condition clear (None while it holds).
    clear_since: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    silence_id: Mapped[int | None] = mapped_column(BigId)
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(String(16))
    # No new alert for this (rule, customer) before then (set on resolution).
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlertComment(Base):
    __tablename__ = "alert_comment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"),
                                          index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Silence(Base):
    """Alerts matching every given matcher, between starts_at and ends_at, are recorded as
    silenced and not notified."""

    __tablename__ = "silence"
    __table_args__ = (Index(None, "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rule.id"))
    customer_id: Mapped[str | None] = mapped_column(String(128))
    tier: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expired_early_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
