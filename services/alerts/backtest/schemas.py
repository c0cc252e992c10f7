"""Backtest requests and reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.alerts.rules.schemas import RuleIn
from shared.validation import SafeModel


class BacktestIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"start": "2026-06-01T00:00:00Z", "end": "2026-11-30T00:00:00Z", "limit": 100}]})

    start: dt.datetime
    end: dt.datetime | None = Field(None, description="default: now")
    customers: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] | None = (
        Field(None, max_length=1000, description="only these customers"))
    limit: Annotated[int, Field(ge=0, le=1000)] = 100

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (e.g. Z)")
        return value


class DraftBacktestIn(BacktestIn):
    rule: RuleIn


class BacktestAlert(BaseModel):
    customer_id: str
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None
    hit_count: int
    title: str
    values: dict[str, Any]


class BacktestOut(BaseModel):
    rule_id: int | None
    rule_name: str
    start: dt.datetime
    end: dt.datetime
    triggers: int = Field(description="stored events and score changes replayed")
    evaluations: int
    no_verdict: int = Field(description="evaluations history could not decide")
    alerts: int = Field(description="alerts the rule would have raised")
    customers: int = Field(description="distinct customers they concern")
    events_truncated: bool = Field(description="the window held more events than a "
                                               "backtest replays")
    items: list[BacktestAlert] = Field(description="the first `limit` of them, in time order")
    note: str
