"""Models, training requests and jobs as the API shows them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Target = Literal["default", "churn"]


class TrainRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "target": "default", "horizon_days": 365, "cutoff": "2026-03-01",
        "params": {"learning_rate": 0.05, "num_leaves": 15}}]})

    target: Target = "default"
    horizon_days: int = Field(365, ge=30, le=730,
                              description="outcome window after each snapshot")
    cutoff: dt.date | None = Field(None, description="train on snapshots before it, test on "
                                   "snapshots from it on (default: at 70 % of the snapshots)")
    first_snapshot: dt.date | None = None
    last_snapshot: dt.date | None = None
    inactivity_days: int = Field(180, ge=30, le=730,
                                 description="churn: no order for this long counts as churn")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="LightGBM parameters (learning_rate, "
                                               "num_leaves, num_boost_round, ...)")
    name: str | None = Field(None, max_length=200)


class JobOut(BaseModel):
    id: int
    kind: str
    status: str = Field(description="queued, running, retrying, succeeded or failed")
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


class ModelSummary(BaseModel):
    id: int
    name: str
    target: str
    source: str
    status: str
    feature_set: str
    feature_set_version: int
    created_by: str
    created_at: dt.datetime
    promoted_at: dt.datetime | None
    retired_at: dt.datetime | None
    metrics: dict[str, Any] | None = None


class ModelOut(ModelSummary):
    features: list[str]
    categories: dict[str, Any]
    params: dict[str, Any]
    report: dict[str, Any]


class StatusChange(BaseModel):
    status: Literal["challenger", "retired"]


class RollbackRequest(BaseModel):
    target: Target


class RescoreFilter(BaseModel):
    customer_ids: list[str] | None = Field(None, max_length=100_000)
    industry: str | None = None
    tiers: list[Literal["low", "medium", "high"]] | None = None


class RescoreRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"filter": {"tiers": ["high"]}},
                                                              {"filter": {}}]})

    filter: RescoreFilter = Field(default_factory=RescoreFilter)
