"""Tier thresholds, strategies and overrides as the API shows them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.validation import SafeModel


class Tier(StrEnum):
    """Risk tiers, from the lowest PD up."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Fields take the members as a Literal, so the OpenAPI document keeps listing the values inline.
TierName = Literal[Tier.LOW, Tier.MEDIUM, Tier.HIGH]
TIERS: tuple[Tier, ...] = tuple(Tier)


class Thresholds(SafeModel):
    """PD at which a tier starts: below ``medium`` is low, from ``high`` on is high."""

    medium: float = Field(0.02, gt=0, lt=1, description="PD from which a customer is medium")
    high: float = Field(0.10, gt=0, lt=1, description="PD from which a customer is high")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.medium < self.high:
            raise ValueError("medium must be below high")
        return self


class Strategy(SafeModel):
    """What the business does with customers of a tier; credit decisions apply it."""

    credit_limit_factor: float = Field(ge=0, le=5, description="share of the credit limit usable")
    payment_terms_days: int = Field(ge=0, le=365)
    discount_eligible: bool
    collection_cadence: str = Field(min_length=1, max_length=200)
    approval_level: str = Field(min_length=1, max_length=100,
                                description="who approves credit above the automatic limit")
    new_credit_blocked: bool = Field(False, description="decline every new credit request")


DEFAULT_STRATEGIES: dict[str, Strategy] = {
    "low": Strategy(credit_limit_factor=1.0, payment_terms_days=60, discount_eligible=True,
                    collection_cadence="monthly statement; reminder at 14 days past due",
                    approval_level="automatic"),
    "medium": Strategy(credit_limit_factor=0.6, payment_terms_days=30, discount_eligible=False,
                       collection_cadence="reminder at 7 days past due; call at 30",
                       approval_level="team lead"),
    "high": Strategy(credit_limit_factor=0.25, payment_terms_days=14, discount_eligible=False,
                     collection_cadence="reminder at due date; call at 7 days; agency at 60",
                     approval_level="credit committee"),
}


class TierConfigIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "thresholds": {"medium": 0.03, "high": 0.12},
        "strategies": {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()},
        "comment": "tighter after Q3 review",
    }]})

    thresholds: Thresholds
    strategies: dict[TierName, Strategy]
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _every_tier(self) -> TierConfigIn:
        missing = set(TIERS) - set(self.strategies)
        if missing:
            raise ValueError(f"strategies missing for: {', '.join(sorted(missing))}")
        return self


class TierConfigOut(TierConfigIn):
    version: int = Field(description="0 = the built-in defaults, never changed")
    created_by: str
    created_at: dt.datetime | None


class OverrideIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "tier": "high", "reason": "Review 2026-11: major customer lost, awaiting accounts",
        "expires_at": "2027-02-28T00:00:00Z"}]})

    tier: TierName
    reason: str = Field(min_length=3, max_length=2000)
    expires_at: dt.datetime

    @model_validator(mode="after")
    def _aware(self) -> OverrideIn:
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a timezone (UTC)")
        return self


class OverrideOut(BaseModel):
    id: int
    customer_id: str
    tier: TierName
    reason: str
    expires_at: dt.datetime
    created_by: str
    created_at: dt.datetime
    lifted_at: dt.datetime | None
    in_force: bool


class PdBucket(BaseModel):
    from_pd: float = Field(description="lowest PD in the bucket (inclusive)")
    to_pd: float = Field(description="PD the bucket ends below (the last one includes 1)")
    tier: Tier = Field(description="the tier every PD of the bucket falls in, under the "
                                   "thresholds in force")
    customers: int


class PdDistribution(BaseModel):
    version: int = Field(description="the tier configuration whose thresholds are marked")
    thresholds: dict[str, float] = Field(description="PD from which `medium` and `high` start")
    total: int
    by_tier: dict[str, int] = Field(description="customers per tier under these thresholds")
    buckets: list[PdBucket]
