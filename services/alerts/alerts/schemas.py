"""Alerts on the wire: one alert with why it fired, pages, counts, lifecycle requests."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.models.alerts import Alert, AlertStatus, Severity
from shared.validation import SafeModel


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    body: str
    created_at: dt.datetime


class AlertOut(BaseModel):
    id: int
    rule_id: int
    rule_name: str
    rule_version: int
    kind: str
    severity: Severity
    status: AlertStatus
    customer_id: str
    customer_name: str | None
    tier: str | None
    title: str
    summary: str
    values: dict[str, Any] = Field(description="the values that crossed, at the first hit")
    last_values: dict[str, Any] = Field(description="the values at the latest hit")
    reasons: list[dict[str, Any]] = Field(
        description="the customer's top risk reasons when the alert opened")
    hit_count: int
    event_pk: int | None
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    clear_since: dt.datetime | None
    silenced: bool
    silence_id: int | None
    drill: bool
    assignee: str | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution: str | None
    cooldown_until: dt.datetime | None
    comments: list[CommentOut] | None = None

    @classmethod
    def of(cls, alert: Alert, *, rule_name: str, customer_name: str | None,
           comments: list[CommentOut] | None = None) -> AlertOut:
        return cls(
            id=alert.id, rule_id=alert.rule_id, rule_name=rule_name,
            rule_version=alert.rule_version, kind=alert.kind,
            severity=Severity(alert.severity), status=AlertStatus(alert.status),
            customer_id=alert.customer_id, customer_name=customer_name, tier=alert.tier,
            title=alert.title, summary=alert.summary, values=alert.values or {},
            last_values=alert.last_values or {}, reasons=alert.reasons or [],
            hit_count=alert.hit_count, event_pk=alert.event_pk, opened_at=alert.opened_at,
            last_seen_at=alert.last_seen_at, clear_since=alert.clear_since,
            silenced=alert.silenced, silence_id=alert.silence_id, drill=alert.drill,
            assignee=alert.assignee, acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by, resolved_at=alert.resolved_at,
            resolved_by=alert.resolved_by, resolution=alert.resolution,
            cooldown_until=alert.cooldown_until, comments=comments)


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                                "null on the last one")


class Counts(BaseModel):
    total: int
    by_status: dict[str, int]
    by_severity: dict[str, int]
    unresolved_by_severity: dict[str, int]


class AlertFilter(BaseModel):
    status: list[AlertStatus] | None = None
    severity: list[Severity] | None = None
    rule_id: int | None = None
    customer_id: str | None = None
    tier: str | None = None
    assignee: str | None = None
    silenced: bool | None = None
    opened_after: dt.datetime | None = None
    opened_before: dt.datetime | None = None
    seen_after: dt.datetime | None = None


class AssignIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"assignee": "j.doe"}, {"assignee": "j.doe", "if_unassigned": True}]})

    assignee: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None
    # "Take the next alert": two analysts taking the same alert at once get one 200 and one
    # 409, decided under the row lock, so nobody works an alert someone else holds.
    if_unassigned: bool = Field(False, description="only assign if nobody holds the alert "
                                "(or the same assignee does); 409 otherwise")


class CommentIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"body": "Called the customer; payment promised for Friday."}]})

    body: Annotated[str, StringConstraints(min_length=1, max_length=10000)]
