"""Silences on the wire."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.models.alerts import Severity
from shared.validation import SafeModel


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"customer_id": "cust-001", "ends_at": "2026-12-24T00:00:00Z",
         "comment": "Known dispute, handled by legal until Christmas."}]})

    rule_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    tier: Literal["low", "medium", "high"] | None = None
    severity: Severity | None = None
    starts_at: dt.datetime | None = Field(None, description="default: now")
    ends_at: dt.datetime
    comment: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _sensible(self) -> SilenceIn:
        if not any((self.rule_id, self.customer_id, self.tier, self.severity)):
            raise ValueError("a silence needs at least one matcher: rule_id, customer_id, "
                             "tier or severity")
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. Z)")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceOut(BaseModel):
    id: int
    rule_id: int | None
    customer_id: str | None
    tier: str | None
    severity: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    comment: str
    created_by: str
    created_at: dt.datetime
    expired_early_at: dt.datetime | None
    state: SilenceState
