"""Models, training requests and jobs as the API shows them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import IsoDate, SafeModel

Target = Literal["default", "churn"]
Family = Literal["lightgbm", "woe_scorecard"]


class ModelStatus(StrEnum):
    """A model's place in the registry: trained and waiting, the one that scores its target,
    scoring in shadow beside it, or kept only for the record and rollback."""

    CANDIDATE = "candidate"
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    RETIRED = "retired"


ParamName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ParamValue = bool | int | float | Annotated[str, StringConstraints(max_length=100)]


class TrainRequest(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "target": "default", "horizon_days": 365, "cutoff": "2026-03-01",
        "params": {"learning_rate": 0.05, "num_leaves": 15}}]})

    target: Target = "default"
    horizon_days: int = Field(365, ge=30, le=730,
                              description="outcome window after each snapshot")
    cutoff: IsoDate | None = Field(None, description="test on snapshots from it on, train on "
                                   "snapshots whose outcome window (horizon) ends by it "
                                   "(default: the third-last snapshot)")
    first_snapshot: IsoDate | None = None
    last_snapshot: IsoDate | None = None
    inactivity_days: int = Field(180, ge=30, le=730,
                                 description="churn: no order for this long counts as churn")
    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict, description="LightGBM parameters (learning_rate, num_leaves, "
        "num_boost_round, ...): names to numbers, booleans or short strings")
    name: str | None = Field(None, max_length=200)
    family: Family = Field("lightgbm", description="lightgbm, or woe_scorecard: a points "
                           "scorecard on weight-of-evidence bins")
    tuning_trials: int = Field(20, ge=0, le=500, description="Optuna trials for LightGBM, "
                               "each scored by an inner cross-validation on the training "
                               "snapshots only (0: the defaults)")
    tuning_seconds: float = Field(30.0, ge=0, le=3600, description="time budget of the "
                                  "search, in seconds")


class ModelSummary(BaseModel):
    id: int
    name: str
    target: str
    source: str
    status: ModelStatus
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


class StatusChange(SafeModel):
    status: Literal[ModelStatus.CHALLENGER, ModelStatus.RETIRED]


class RollbackRequest(SafeModel):
    target: Target


class Promotion(BaseModel):
    model_id: int
    target: Target
    previous_model_id: int | None = Field(description="the champion it replaced, now retired")
    rescore_job_id: int = Field(description="the job rescoring everyone with the new champion")


class Rollback(BaseModel):
    target: Target
    model_id: int | None = Field(description="the champion again; null: the built-in "
                                             "scorecard scores")
    retired_model_id: int | None
    rescore_job_id: int


class PsiCheck(BaseModel):
    psi: float | None = Field(description="population stability index; null without a "
                                          "training reference")
    verdict: str = Field(description="stable, watch, act, or no reference")
    missing_share: float | None = None
    reference_missing_share: float | None = None


class DriftReport(BaseModel):
    model_id: int
    target: Target
    customers: int = Field(description="customers whose current scores were compared")
    score: PsiCheck
    features: dict[str, PsiCheck]
    verdict: str = Field(description="the score's PSI verdict")
    worst_feature_psi: float
    thresholds: dict[str, str]
