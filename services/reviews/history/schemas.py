"""The risk file as the API shows it: one snapshot per review and per tier change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class Snapshot(BaseModel):
    id: int
    customer_id: str
    cause: str = Field(description="review | tier_change")
    review_id: int | None
    taken_at: dt.datetime
    pd: float | None
    points: int | None
    tier: str | None
    previous_tier: str | None
    overdue_amount: Decimal | None
    outstanding_balance: Decimal | None
    features: dict[str, Any] = Field(description="the key features at the time")
    reasons: list[dict[str, Any]]
    decision: str | None = Field(description="the review's decision (reviews only)")
    decided_by: str | None = Field(description="who decided (reviews) or what changed the "
                                               "tier (tier changes: the scoring trigger)")
    details: dict[str, Any]


class SnapshotPage(BaseModel):
    items: list[Snapshot]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")
