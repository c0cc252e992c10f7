"""Receiver and delivery settings (prefix ``RISKWATCH_ALERTS_``, shared with the alerts core
settings, whose field names differ)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReceiverSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_ALERTS_", extra="ignore")

    delivery_max_attempts: int = Field(
        8, ge=1, le=50,
        description="tries per notification and receiver before the delivery is failed")
    delivery_timeout_seconds: float = Field(
        10.0, gt=0, le=120,
        description="limit of one try: connect, send and read the answer (webhooks), or the "
                    "whole Apprise call (e-mail, chat); must stay below "
                    "RISKWATCH_QUEUE_LEASE_SECONDS (default 30), or the worker refuses to start")
    delivery_backoff_base_seconds: float = Field(
        15.0, gt=0,
        description="wait after the first failed try; doubled after each further one "
                    "(with jitter: 50-100 % of it)")
    delivery_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="longest wait between two tries")
    delivery_loops: int = Field(
        2, ge=1, le=32,
        description="delivery loops per alerts worker, each a thread sending one delivery "
                    "at a time, so one slow receiver does not hold up the others")
    receivers_secrets_keys: SecretStr | None = Field(
        None,
        description="Fernet keys (comma-separated, the first encrypts) for receivers' "
                    "secrets and notification URLs; default: derived from "
                    "RISKWATCH_INTERNAL_SECRET")


@lru_cache
def get_receiver_settings() -> ReceiverSettings:
    return ReceiverSettings()
