"""Drills on the wire: the request that starts one, and what it reports."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.alerts.playbooks.schemas import DrillEvent
from shared.validation import RowId, SafeModel


class DrillIn(SafeModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"playbook_id": 1},
        {"playbook_id": 3, "events": [{"type": "complaint.opened",
                                       "data": {"complaint_id": "x-1"}}]}]})

    playbook_id: RowId
    events: list[DrillEvent] | None = Field(
        None, min_length=1, max_length=100,
        description="the scenario to send; default: the playbook's `drill_events`")


class DrillStatus(StrEnum):
    SENDING = "sending"  # the runner has not handed the events to ingest yet
    SEND_FAILED = "send_failed"  # ingest refused them (see send_error)
    WAITING_FOR_ALERT = "waiting_for_alert"
    RUNNING = "running"  # the playbook's run started; steps are being worked
    COMPLETED = "completed"


class DrillOut(BaseModel):
    id: int
    playbook_id: int
    playbook_name: str
    customer_id: str = Field(description="the synthetic customer (marked as a drill)")
    status: DrillStatus
    events: list[DrillEvent]
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None = Field(description="when the runner handed the events "
                                                    "to ingest")
    send_error: str | None
    event_received_at: dt.datetime | None = Field(
        description="when ingest stored the scenario's first event")
    alert_id: int | None
    alert_opened_at: dt.datetime | None
    alert_acknowledged_at: dt.datetime | None
    run_id: int | None
    run_completed_at: dt.datetime | None
    seconds_to_detect: float | None = Field(description="event stored → alert raised")
    seconds_to_acknowledge: float | None = Field(description="alert raised → acknowledged")
    seconds_to_complete: float | None = Field(description="alert raised → run completed")


class DrillPage(BaseModel):
    items: list[DrillOut]
    next_cursor: int | None = Field(description="pass as `before` for the next (older) page")
