"""Customers and their events: the core record every service reads (written by ingest)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId

Money = Numeric(20, 2)


class Customer(Base):
    __tablename__ = "customer"
    # The drill customers alone, so a portfolio report leaves them out with an anti-join
    # against a handful of rows instead of a scan of every customer for the flag.
    # What the portfolio reports group by, in customer order, so they merge-join it with
    # customer_risk's index instead of reading and hashing every row.
    __table_args__ = (Index("ix_customer_drill", "customer_id",
                            postgresql_where=text("is_drill"),
                            sqlite_where=text("is_drill = 1")),
                      Index("ix_customer_report", "customer_id", "industry", "country",
                            "credit_currency", "is_drill"))

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    legal_name: Mapped[str | None] = mapped_column(String(300))
    registration_ids: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    industry: Mapped[str | None] = mapped_column(String(100), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    founded_on: Mapped[dt.date | None] = mapped_column(Date)
    employees: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[Decimal | None] = mapped_column(Money)
    revenue_currency: Mapped[str | None] = mapped_column(String(3))
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    credit_currency: Mapped[str | None] = mapped_column(String(3))
    owner: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # True when the customer was created by an event that arrived before its profile.
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    # A synthetic customer a drill created: its alerts reach only receivers that opt in to
    # drills, and portfolio figures leave it out.
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The source's own timestamp of the profile version stored: older updates are skipped.
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CustomerAlias(Base):
    """A CRM's own id for a customer: (source, external_id) resolves to customer_id."""

    __tablename__ = "customer_alias"

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"), index=True
    )


class Event(Base):
    """One CloudEvent about a customer, with the fields features need pulled out and typed."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        Index(None, "customer_id", "occurred_at"),
        Index(None, "type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.customer_id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    data: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    # Everything else the CloudEvent carried (specversion, datacontenttype, extensions).
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # Typed projections of `data` for known types, so features are plain SQL aggregates.
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    ref_id: Mapped[str | None] = mapped_column(String(255))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    counterparty: Mapped[str | None] = mapped_column(String(255))


class IndustryOutlook(Base):
    """An industry's outlook index as of a date (from `industry.outlook` events or imports)."""

    __tablename__ = "industry_outlook"
    __table_args__ = (UniqueConstraint("source", "industry", "as_of"),
                      Index(None, "industry", "as_of"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    industry: Mapped[str] = mapped_column(String(100))
    as_of: Mapped[dt.date] = mapped_column(Date)
    # Higher is better; -1..1 by convention (e.g. -0.4 = deteriorating sector).
    index_value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
