"""Tables owned by the reviews service: review policies (versioned), reviews and their notes,
and the customer's risk file (a profile snapshot at every review and every tier change)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId

# Statuses in which a review is still to be done. At most one such review per customer
# (a partial unique index), so "open a review unless one is open" holds across replicas.
OPEN_STATUSES = ("open", "in_progress")
_OPEN_WHERE = text("status IN ('open', 'in_progress')")
Money = Numeric(20, 2)


class ReviewPolicy(Base):
    """One version of the review cadence per tier and the SLA; the highest version is in
    force, version 0 (no row) being the built-in defaults."""

    __tablename__ = "review_policy"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # {"low": 365, "medium": 90, "high": 30}: days between periodic reviews per tier.
    cadence_days: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    sla_days: Mapped[int] = mapped_column(Integer)
    open_on_worsened_tier: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Review(Base):
    """A periodic, triggered (tier worsened) or ad-hoc review of one customer."""

    __tablename__ = "review"
    __table_args__ = (
        Index(None, "status", "due_on"),
        Index(None, "customer_id", "id"),
        Index("uq_review_open_customer", "customer_id", unique=True,
              postgresql_where=_OPEN_WHERE, sqlite_where=_OPEN_WHERE),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # periodic | triggered | adhoc
    status: Mapped[str] = mapped_column(String(16), default="open")
    # Why it was opened ("periodic review (tier high, every 30 days)", "tier medium -> high").
    reason: Mapped[str] = mapped_column(Text)
    tier: Mapped[str | None] = mapped_column(String(16))  # tier in force when opened
    pd: Mapped[float | None] = mapped_column(Float)
    due_on: Mapped[dt.date] = mapped_column(Date)
    deadline_on: Mapped[dt.date] = mapped_column(Date)  # due_on + the policy's SLA
    # "periodic:<customer>:<due date>": of several scheduler replicas only one inserts it.
    schedule_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    policy_version: Mapped[int] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(32))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decision_details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class ReviewNote(Base):
    __tablename__ = "review_note"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"),
                                           index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProfileSnapshot(Base):
    """One page of a customer's risk file: the risk as it stood at a review or a tier
    change, with the decision taken and who took it."""

    __tablename__ = "profile_snapshot"
    __table_args__ = (Index(None, "customer_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(16))  # review | tier_change
    # "tier:<customer>:<scored at>" or "review:<id>": a redelivered work item adds nothing.
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("review.id", ondelete="SET NULL"))
    taken_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    pd: Mapped[float | None] = mapped_column(Float)
    points: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(16))
    previous_tier: Mapped[str | None] = mapped_column(String(16))
    overdue_amount: Mapped[Decimal | None] = mapped_column(Money)
    outstanding_balance: Mapped[Decimal | None] = mapped_column(Money)
    features: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    decision: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
