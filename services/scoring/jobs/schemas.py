"""Background jobs as the API shows them, and the vocabulary of their status."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import SafeModel


class JobStatus(StrEnum):
    """Where a background job is: queued, running, retrying after a crash, or finished."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobOut(BaseModel):
    id: int
    kind: str
    status: JobStatus = Field(description="queued, running, retrying, succeeded or failed")
    stage: str
    progress: float
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    model_id: int | None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class RescoreFilter(SafeModel):
    customer_ids: list[str] | None = Field(None, max_length=100_000)
    industry: str | None = None
    tiers: list[Literal["low", "medium", "high"]] | None = None


class RescoreRequest(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"filter": {"tiers": ["high"]}},
                                                              {"filter": {}}]})

    filter: RescoreFilter = Field(default_factory=RescoreFilter)
    features: Literal["recompute", "stored"] = Field("recompute", description=(
        "`recompute` computes every feature from the stored events (the nightly run); "
        "`stored` scores the feature vectors kept at the last scoring, for when only the "
        "model changed (what a promotion or rollback runs), several times faster"))
