"""Alerts settings (prefix ``RISKWATCH_ALERTS_``): rule defaults, the schedules' cadence and
the limits that keep a rule's evaluation cheap."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_ALERTS_", extra="ignore")

    default_cooldown_seconds: int = Field(
        86400, ge=0, description="quiet time after an alert is resolved before the same rule "
                                 "alerts on the same customer again, for rules that set none")
    default_resolve_after_seconds: int = Field(
        3600, ge=0, description="how long a condition must stay clear (or an event rule stay "
                                "quiet) before its alert resolves itself, for rules that set "
                                "none")
    default_repeat_interval_seconds: int = Field(
        86400, ge=60, description="re-notification interval of a still-open alert, for rules "
                                  "that set none")
    evaluation_batch_size: int = Field(
        200, ge=1, le=5000, description="triggers (events, score changes) the worker claims "
                                        "and evaluates per transaction")
    maintenance_every_seconds: int = Field(
        15, ge=1, le=59, description="how often the worker auto-resolves clear alerts, "
                                     "re-notifies open ones and lifts expired silences")
    sweep_hour_utc: int = Field(
        4, ge=0, le=23, description="hour (UTC) at which the worker re-evaluates the "
                                    "state rules for every scored customer (days past due "
                                    "grow without any event)")
    sweep_page_size: int = Field(
        500, ge=1, le=10000, description="customers evaluated per transaction by the sweep")
    expression_max_length: int = Field(
        2000, ge=10, description="longest CEL expression a rule may hold (characters)")
    expression_max_comprehension_depth: int = Field(
        1, ge=0, le=3, description="deepest nesting of CEL comprehensions (all, exists, map, "
                                   "filter); with 1, an evaluation is linear in its input")
    expression_max_event_bytes: int = Field(
        65536, ge=1024, description="an event whose data is larger (as JSON) gets no verdict "
                                    "from expressions that read it: with the nesting bound, "
                                    "this caps an evaluation's work")
    overdue_every_seconds: int = Field(
        30, ge=1, le=59, description="how often the worker looks for playbook steps past "
                                     "due and tells the receivers (once per step)")
    drill_send_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="how long the drill runner waits for ingest to "
                                       "accept a drill's events before trying again later")
    backtest_max_days: int = Field(
        366, ge=1, description="longest window a backtest replays")
    backtest_max_events: int = Field(
        200_000, ge=1, description="most stored events a backtest replays")


@lru_cache
def get_alerts_settings() -> AlertsSettings:
    return AlertsSettings()
