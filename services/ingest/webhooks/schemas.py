"""What the webhook adapters answer (the senders mostly read only the status code)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ZohoReceipt(BaseModel):
    status: Literal["accepted", "duplicate"] = Field(
        description="`duplicate`: this notification was received before; nothing stored twice")
    # The counts are left out of a duplicate's answer: nothing was applied.
    customers: dict[str, int] | None = Field(
        None, description="profile upserts by outcome (created, updated, unchanged, stale)")
    events: dict[str, int] | None = Field(
        None, description="events by outcome (accepted, duplicate, rejected)")
    ignored: int | None = Field(None, description="records without an account, not stored")
