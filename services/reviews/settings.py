"""Reviews settings (prefix ``RISKWATCH_REVIEWS_``): when the worker's schedules run."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReviewsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_REVIEWS_", extra="ignore")

    due_pass_hour_utc: int = Field(
        3, ge=0, le=23, description="hour (UTC) at which the worker opens the reviews that "
                                    "fall due (after scoring's nightly rescore)")
    overdue_pass_minutes: int = Field(
        15, ge=1, le=59, description="every this many minutes the worker marks reviews "
                                     "past their deadline as overdue")
    score_changed_batch_size: int = Field(
        500, ge=1, le=10_000, description="score-changed notices the worker claims and "
                                          "handles per transaction")
    due_pass_batch_size: int = Field(
        5000, ge=1, description="reviews inserted per statement by the due-review pass")


@lru_cache
def get_reviews_settings() -> ReviewsSettings:
    return ReviewsSettings()
