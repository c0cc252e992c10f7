"""Credit decision request and answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.scoring.tiers.schemas import Strategy
from shared.event_types import PositiveMoney
from shared.validation import SafeModel


class Decision(StrEnum):
    """A credit decision's outcome."""

    APPROVE = "approve"
    REFER = "refer"
    DECLINE = "decline"


class CreditRequest(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"customer_id": "sim-000042", "amount": "50000.00", "currency": "EUR"}]})

    customer_id: str = Field(min_length=1, max_length=128)
    amount: PositiveMoney = Field(gt=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class CreditDecision(BaseModel):
    decision_id: int = Field(description="the audit log entry that records this decision")
    decision: Literal[Decision.APPROVE, Decision.REFER, Decision.DECLINE]
    reasons: list[str]
    customer_id: str
    amount: Decimal
    currency: str
    tier: str | None
    model_tier: str | None
    pd: float | None
    points: int | None
    credit_limit: Decimal | None
    outstanding_balance: Decimal | None
    available_limit: Decimal | None = Field(
        description="credit limit × tier credit-limit factor − outstanding balance")
    approval_level: str | None
    strategy: Strategy | None
    model_version: str | None
    scored_at: dt.datetime | None
    decided_at: dt.datetime
