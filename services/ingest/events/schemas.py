"""Answers of the event endpoints, and the CloudEvent shape shown in the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.validation import CUSTOMER_ID_MAX_LENGTH, CUSTOMER_ID_PATTERN


class FieldProblem(BaseModel):
    field: str
    message: str


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the request (0 for single events)")
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    source: str | None = None
    customer_id: str | None = Field(None, description="Customer the event was filed under "
                                                      "(after alias resolution)")
    event_pk: int | None = Field(None, description="Stored event's row id, when accepted")
    errors: list[FieldProblem] = Field(default_factory=list)


class BatchResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[EventResult]


CLOUDEVENT_EXAMPLE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "inv-2026-0042",
    "source": "erp/invoicing",
    "type": "invoice.issued",
    "subject": "cust-001",
    "time": "2026-11-02T09:30:00Z",
    "datacontenttype": "application/json",
    "data": {"invoice_id": "INV-42", "amount": "1200.00", "currency": "EUR",
             "due_date": "2026-12-02"},
}

CLOUDEVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvents 1.0 event in structured mode. `subject` is the customer id "
                   "(required except for industry-wide `industry.outlook` events).",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "minLength": 1, "maxLength": 255},
        "source": {"type": "string", "minLength": 1, "maxLength": 255},
        "type": {"type": "string", "minLength": 1, "maxLength": 100},
        "subject": {"type": ["string", "null"], "minLength": 1,
                    "maxLength": CUSTOMER_ID_MAX_LENGTH, "pattern": CUSTOMER_ID_PATTERN},
        "time": {"type": ["string", "null"], "format": "date-time",
                 "description": "when it happened (RFC 3339 with an offset); default: now"},
        "datacontenttype": {"type": "string"},
        "dataschema": {"type": "string"},
        "data": {},
    },
    # Extension attributes: CloudEvents 1.0 allows only scalar values.
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
# A batch is validated event by event (an invalid event is rejected alone and reported in
# the 207 answer), so its items are documented as objects holding a CloudEvent.
BATCH_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A CloudEvent as for `POST /v1/events`; each is validated on its own.",
}
