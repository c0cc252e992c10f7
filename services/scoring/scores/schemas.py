"""Current risk and score history as the API shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from services.scoring.tiers.schemas import Strategy

if TYPE_CHECKING:
    from services.scoring.scores.service import RiskView


class Reason(BaseModel):
    feature: str
    value: float | None = None
    points: int | None = Field(None, description="points this attribute costs (negative) or "
                                                 "earns, on the 600 @ 50:1, PDO 20 scale")
    text: str = Field(description="the reason in an analyst's words")


class TierOverrideInForce(BaseModel):
    tier: str
    reason: str
    expires_at: dt.datetime
    created_by: str


class RiskOut(BaseModel):
    customer_id: str
    pd_default: float = Field(description="probability of default within the model's horizon")
    pd_churn: float | None
    points: int = Field(description="points = 487.12 + 28.85·ln(odds good:bad); 600 at 50:1")
    tier: str = Field(description="the tier in force: an override if one is, else the model's")
    model_tier: str
    override: TierOverrideInForce | None
    strategy: Strategy
    reasons: list[Reason]
    churn_reasons: list[Reason]
    model_version: str
    churn_model_version: str | None
    feature_set: str
    feature_set_version: int
    tier_config_version: int
    outstanding_balance: Decimal
    overdue_amount: Decimal
    credit_limit: Decimal | None
    credit_currency: str | None
    scored_at: dt.datetime
    trigger: str
    features: dict[str, Any] | None = Field(None, description="with ?include=features")

    @classmethod
    def of(cls, view: RiskView, *, include_features: bool = False) -> RiskOut:
        risk, tiering, override = view.risk, view.tiering, view.tiering.override
        return cls(
            customer_id=risk.customer_id, pd_default=risk.pd_default, pd_churn=risk.pd_churn,
            points=risk.points, tier=tiering.tier, model_tier=tiering.model_tier,
            override=None if override is None else TierOverrideInForce(
                tier=override.tier, reason=override.reason, expires_at=override.expires_at,
                created_by=override.created_by),
            strategy=tiering.strategy, reasons=risk.reasons or [],
            churn_reasons=risk.churn_reasons or [],
            model_version=risk.model_version, churn_model_version=risk.churn_model_version,
            feature_set=risk.feature_set, feature_set_version=risk.feature_set_version,
            tier_config_version=tiering.tier_config_version,
            outstanding_balance=risk.outstanding_balance, overdue_amount=risk.overdue_amount,
            credit_limit=risk.credit_limit, credit_currency=risk.credit_currency,
            scored_at=risk.scored_at, trigger=risk.trigger,
            features=risk.features if include_features else None)


class ScoreOut(BaseModel):
    id: int
    target: str
    scored_at: dt.datetime
    pd: float
    points: int
    tier: str | None
    model_version: str
    feature_set: str
    feature_set_version: int
    reasons: list[Reason] | None = Field(description=(
        "null when the score moved too little to be explained when it was written (the "
        "current risk is explained on first read), and for a challenger's score"))
    trigger: str
    shadow: bool
    overdue_amount: Decimal | None = Field(None, description=(
        "the overdue amount scored with; null for scores written before it was kept"))


class ScorePage(BaseModel):
    items: list[ScoreOut]
    total: int
    limit: int
    offset: int
