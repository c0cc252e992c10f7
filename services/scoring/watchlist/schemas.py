"""The watch list: customers whose risk moved the wrong way, filtered, sorted and paged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Signal = Literal["all", "tier_worsened", "pd_up", "overdue_grew"]
SortKey = Literal["pd_change", "pd", "overdue", "overdue_change"]
# Sort keys whose values are money: their cursors carry the exact decimal as text.
MONEY_SORTS = frozenset({"overdue", "overdue_change"})


class WatchFilter(BaseModel):
    since_days: int = Field(30, ge=1, le=3650)
    signal: Signal = "all"
    min_pd_change: float = Field(0.0, ge=0.0, le=1.0)
    tier: Literal["low", "medium", "high"] | None = None
    industry: str | None = None
    owner: str | None = None
    sort: SortKey = "pd_change"


class WatchItem(BaseModel):
    customer_id: str
    name: str | None
    industry: str | None
    owner: str | None
    tier: str = Field(description="the tier stored with the current score")
    previous_tier: str | None = Field(description="the tier of the last score before the "
                                                  "window; null: not scored then")
    tier_worsened: bool
    pd: float
    previous_pd: float | None
    pd_change: float = Field(description="pd − previous_pd (0 without a previous score)")
    overdue_amount: Decimal
    previous_overdue_amount: Decimal | None = Field(
        description="the overdue amount of the last score before the window; null: not "
                    "scored then, or scored before overdue amounts were kept")
    overdue_change: Decimal = Field(description="overdue_amount − previous_overdue_amount "
                                                "(0 without a previous amount)")
    outstanding_balance: Decimal
    currency: str | None
    scored_at: dt.datetime
    pd_history: list[float] = Field(description="the last 12 default PDs, oldest first "
                                                "(for a sparkline)")


class WatchPage(BaseModel):
    items: list[WatchItem]
    next_cursor: str | None
    since: dt.datetime = Field(description="the start of the window compared against")
