"""Playbooks, their runs and steps on the wire: a plan in and out, a run with its steps and
timeline, the work list's pages, step transitions and per-playbook statistics."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.models.alerts import Severity
from shared.models.playbooks import RunStatus, StepStatus
from shared.validation import RowId, SafeModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,99}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
TierName = Literal["low", "medium", "high"]
Person = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Trigger(SafeModel):
    """Which opened alerts start the playbook: every non-empty list must match (any of its
    values); at least one must be given."""

    model_config = ConfigDict(extra="forbid")

    rule_ids: list[RowId] = Field(default_factory=list, max_length=100)
    severities: list[Severity] = Field(default_factory=list, max_length=3)
    tiers: list[TierName] = Field(default_factory=list, max_length=3)
    event_types: list[EventType] = Field(
        default_factory=list, max_length=50,
        description="the type of the event that opened the alert (event-triggered alerts)")

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if not (self.rule_ids or self.severities or self.tiers or self.event_types):
            raise ValueError("name at least one of rule_ids, severities, tiers, event_types: "
                             "an empty trigger would start the playbook for every alert")
        return self


class StepIn(SafeModel):
    model_config = ConfigDict(extra="forbid")

    title: Name
    instructions: Annotated[str, StringConstraints(max_length=5000)] = ""
    owner_role: Role = Field(description="who does it, e.g. credit_controller; the role "
                                         "account_owner is assigned to the customer's owner")
    due_within_minutes: int = Field(ge=1, le=525600, description="from the run's start")


class DrillEvent(SafeModel):
    """One event of a drill's scenario: a CloudEvent type and its data (ingest validates
    the data of known types when the drill sends it)."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class PlaybookIn(SafeModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Large unusual transaction", "trigger": {"rule_ids": [9]},
        "steps": [{"title": "Confirm with the customer", "owner_role": "account_owner",
                   "due_within_minutes": 120,
                   "instructions": "Call and confirm the payment was intended."}],
        "drill_events": [{"type": "transaction.completed",
                          "data": {"amount": "990000.00", "currency": "EUR"}}]}]})

    name: Name
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    trigger: Trigger
    steps: list[StepIn] = Field(min_length=1, max_length=50)
    drill_events: list[DrillEvent] = Field(default_factory=list, max_length=100)
    enabled: bool = True


class PlaybookPatch(SafeModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"enabled": False}]})

    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    trigger: Trigger | None = None
    steps: list[StepIn] | None = Field(None, min_length=1, max_length=50)
    drill_events: list[DrillEvent] | None = Field(None, max_length=100)
    enabled: bool | None = None


class PlaybookOut(BaseModel):
    id: int
    name: str
    description: str | None
    trigger: Trigger
    steps: list[StepIn]
    drill_events: list[DrillEvent]
    enabled: bool
    builtin: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class StepOut(BaseModel):
    position: int
    title: str
    instructions: str
    owner_role: str
    assignee: str | None
    status: StepStatus
    due_at: dt.datetime
    overdue: bool = Field(description="not finished and past its due time")
    overdue_notified_at: dt.datetime | None
    started_at: dt.datetime | None
    started_by: str | None
    finished_at: dt.datetime | None
    finished_by: str | None
    skip_reason: str | None
    seconds_taken: float | None = Field(description="started (else run start) → finished")


class TimelineEntry(BaseModel):
    at: dt.datetime
    what: Literal["alert_raised", "alert_acknowledged", "run_started", "step_started",
                  "step_overdue", "step_done", "step_skipped", "run_completed"]
    step: int | None = None
    actor: str | None = None
    detail: str | None = None


class RunOut(BaseModel):
    id: int
    playbook_id: int
    playbook_name: str
    alert_id: int
    customer_id: str
    drill: bool
    status: RunStatus
    alert_opened_at: dt.datetime
    started_at: dt.datetime
    completed_at: dt.datetime | None
    seconds_to_complete: float | None = Field(description="run started → completed")
    steps: list[StepOut]
    timeline: list[TimelineEntry] | None = Field(
        None, description="alert raised → run started → each step → completed (one run)")


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                                "null on the last one")


class RunCounts(BaseModel):
    total: int
    by_status: dict[str, int] = Field(description="open (in progress) and completed")
    overdue: int = Field(description="runs with an unfinished step past due")


class RunFilter(BaseModel):
    playbook_id: int | None = None
    status: RunStatus | None = None
    customer_id: str | None = None
    assignee: str | None = None
    owner_role: str | None = None
    overdue: bool | None = None
    drill: bool | None = None


class StepAction(StrEnum):
    START = "start"
    DONE = "done"
    SKIP = "skip"


class SkipIn(SafeModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "Credit was already frozen by the nightly limit review."}]})

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000,
                                             strip_whitespace=True)]


class ReassignIn(SafeModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"assignee": "j.doe"}]})

    assignee: Person | None


class RunStats(BaseModel):
    runs: int
    open: int
    completed: int
    median_seconds_to_complete: float | None
    p90_seconds_to_complete: float | None


class PlaybookStats(BaseModel):
    playbook_id: int
    real: RunStats = Field(description="runs started by alerts on real customers")
    drills: RunStats = Field(description="runs started by drills")
