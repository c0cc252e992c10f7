"""Current risk and score history as the API shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from services.scoring.tiers.schemas import Strategy


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
    reasons: list[Reason]
    trigger: str
    shadow: bool


class ScorePage(BaseModel):
    items: list[ScoreOut]
    total: int
    limit: int
    offset: int
