"""Tables owned by the scoring service: models and their champions, jobs, scores, the current
risk per customer, tier configurations and overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId

Money = Numeric(20, 2)


class RiskModel(Base):
    """A trained model: LightGBM text plus everything needed to score and to explain it."""

    __tablename__ = "risk_model"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(16), index=True)  # default | churn
    # events: trained on point-in-time features; file: trained on a labelled CSV whose
    # columns are read from customer attributes at scoring time.
    source: Mapped[str] = mapped_column(String(16))
    # candidate -> champion -> retired; challenger scores in shadow beside the champion.
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    feature_set: Mapped[str] = mapped_column(String(50))
    feature_set_version: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JsonDoc)
    # Categorical columns and their levels, in the order LightGBM saw them.
    categories: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    model_text: Mapped[str] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # Training distributions (score and feature bins) that drift is measured against.
    reference: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    promoted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ModelChampion(Base):
    """The one champion per target (the primary key makes "one" a constraint)."""

    __tablename__ = "model_champion"

    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("risk_model.id"))
    previous_model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_model.id"))
    promoted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    promoted_by: Mapped[str] = mapped_column(String(200))


class ScoringJob(Base):
    """A background job (training, training from a file, rescoring) and its progress."""

    __tablename__ = "scoring_job"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stage: Mapped[str] = mapped_column(String(200), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    request: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # An uploaded CSV, kept so a retried job can read it again.
    input_text: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    error: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_model.id"))
    # Scheduled runs carry e.g. "nightly-rescore:2026-11-29": unique, so of several
    # replicas only one creates the night's job.
    schedule_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Score(Base):
    """One entry of a customer's score history (written when the result changes)."""

    __tablename__ = "score"
    __table_args__ = (
        Index(None, "customer_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(16))
    scored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    pd: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(16))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_model.id"))
    model_version: Mapped[str] = mapped_column(String(100))
    feature_set: Mapped[str] = mapped_column(String(50))
    feature_set_version: Mapped[int] = mapped_column(Integer)
    # None: the move was too small to explain when it was scored (see CustomerRisk.reasons).
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc, default=list)
    trigger: Mapped[str] = mapped_column(String(50))
    # A challenger's score, kept for comparison; never the customer's risk.
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    # The overdue amount scored with (default rows; None before revision 0012), so the watch
    # list can tell whose overdue grew since a date.
    overdue_amount: Mapped[Decimal | None] = mapped_column(Money)


# The watch list's "last default score before a date" per customer: read in order from
# this index alone (PostgreSQL: index-only, no sort of the whole history).
Index("ix_score_default_before", Score.customer_id, Score.scored_at.desc(), Score.id.desc(),
      postgresql_include=["pd", "tier", "overdue_amount"],
      postgresql_where=text("target = 'default' AND shadow IS false"),
      sqlite_where=text("target = 'default' AND shadow = 0"))


class CustomerRisk(Base):
    """The current risk of a customer: what the risk API and credit decisions read."""

    __tablename__ = "customer_risk"
    # What the watch list compares and the portfolio reports sum, for every customer,
    # readable without the wide rows (features and reasons make a row kilobytes; scans of
    # them dominated the watch list and the reports). One index for both: each one more is
    # written on every rescore.
    __table_args__ = (Index("ix_customer_risk_current", "customer_id", "pd_default", "tier",
                            "overdue_amount", "credit_currency", "outstanding_balance"),
                      # The aging report reads only the overdue customers' rows (it needs
                      # their days past due, in ``features``): a quarter of the table.
                      Index("ix_customer_risk_overdue", "customer_id",
                            postgresql_where=text("overdue_amount > 0"),
                            sqlite_where=text("overdue_amount > 0")))

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True)
    pd_default: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(16), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_model.id"))
    model_version: Mapped[str] = mapped_column(String(100))
    # None until explained: reasons are computed where a score moves materially, else on
    # first read (from ``features``) and then kept; pred_contrib costs 100x a prediction.
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc, default=list)
    pd_churn: Mapped[float | None] = mapped_column(Float)
    churn_model_id: Mapped[int | None] = mapped_column(ForeignKey("risk_model.id"))
    churn_model_version: Mapped[str | None] = mapped_column(String(100))
    churn_reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc, default=list)
    feature_set: Mapped[str] = mapped_column(String(50))
    feature_set_version: Mapped[int] = mapped_column(Integer)
    features: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    outstanding_balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    overdue_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The credit line as of scoring (latest credit_limit.changed, else the profile's).
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    credit_currency: Mapped[str | None] = mapped_column(String(3))
    in_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_config_version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(50))
    scored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class TierConfig(Base):
    """One version of the tier thresholds and strategies; the highest version is in force."""

    __tablename__ = "tier_config"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    strategies: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class TierOverride(Base):
    """An analyst's tier for a customer, in force until it expires or is lifted."""

    __tablename__ = "tier_override"
    __table_args__ = (Index(None, "customer_id", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customer.customer_id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
