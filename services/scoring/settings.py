"""Scoring settings (prefix ``RISKWATCH_SCORING_``): rescoring batches, the nightly rescore,
the training upload cap and the built-in scorecard's base rate."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_SCORING_", extra="ignore")

    rescore_batch_size: int = Field(
        2000, ge=1, description="customers scored per transaction by a rescoring job")
    event_batch_size: int = Field(
        500, ge=1, le=5000, description=(
            "customers the worker scores per batch from events: it claims what is waiting, "
            "up to this many, so a backlog is scored in larger batches, each with one "
            "feature query (a failed batch is retried customer by customer)"))
    rescore_pages_in_flight: int = Field(
        2, ge=1, le=16, description=(
            "pages of customers a rescoring job scores and writes at once, each in its own "
            "transaction: while one waits on the database the next is computed"))
    rescore_explain_threads: int = Field(
        2, ge=1, le=64, description=(
            "threads a rescoring job gives LightGBM for its reasons (SHAP contributions): "
            "the job runs at the worker's low priority, so it may use every core; scores "
            "from events always explain on one"))
    nightly_rescore_hour_utc: int = Field(
        2, ge=0, le=23, description="hour (UTC) at which the worker rescores everyone")
    scorecard_base_rate: float = Field(
        0.01, gt=0, lt=0.5, description="the portfolio's default rate: a neutral customer's "
        "PD under the built-in default-risk scorecard (its base points)")
    max_training_upload_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="largest CSV /v1/models/train-from-file accepts")


@lru_cache
def get_scoring_settings() -> ScoringSettings:
    return ScoringSettings()
