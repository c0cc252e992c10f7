"""Review policies as the API shows them: a cadence per tier, the SLA, and whether a
worsened tier opens a review at once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.validation import SafeModel

Days = Annotated[int, Field(ge=1, le=3650)]
TIERS = ("low", "medium", "high")
DEFAULT_CADENCE = {"low": 365, "medium": 90, "high": 30}
DEFAULT_SLA_DAYS = 14


class Cadence(BaseModel):
    """Days between two periodic reviews of a customer of each tier."""

    low: Days = DEFAULT_CADENCE["low"]
    medium: Days = DEFAULT_CADENCE["medium"]
    high: Days = DEFAULT_CADENCE["high"]


class ReviewPolicyIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "cadence_days": {"low": 365, "medium": 90, "high": 30}, "sla_days": 14,
        "open_on_worsened_tier": True, "comment": "committee decision 2026-11"}]})

    cadence_days: Cadence = Field(default_factory=Cadence)
    sla_days: int = Field(DEFAULT_SLA_DAYS, ge=1, le=365,
                          description="days after its due date by which a review must be "
                                      "completed; later it is overdue")
    open_on_worsened_tier: bool = Field(
        True, description="a tier that worsens opens a triggered review at once")
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _riskier_reviewed_no_less_often(self) -> ReviewPolicyIn:
        c = self.cadence_days
        if not c.high <= c.medium <= c.low:
            raise ValueError("cadence_days must not review a riskier tier less often "
                             "(high <= medium <= low)")
        return self


class ReviewPolicyOut(ReviewPolicyIn):
    version: int = Field(description="0 = the built-in defaults, never changed")
    created_by: str
    created_at: dt.datetime | None
