"""POST /v1/events (structured or binary mode) and POST /v1/events/batch."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.ingest.events.schemas import (
    BATCH_ITEM_SCHEMA,
    CLOUDEVENT_EXAMPLE,
    CLOUDEVENT_SCHEMA,
    BatchResult,
    EventResult,
)
from services.ingest.events.service import EventOutcome, ingest_events
from services.ingest.http import (
    ingest_settings,
    is_json,
    media_type,
    parse_json,
    raw_body,
)
from services.ingest.settings import IngestSettings
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    field_error,
)
from shared.group_commit import GroupCommit

router = APIRouter(prefix="/v1/events", tags=["events"])

BATCH_SCHEMA = {"type": "array", "items": BATCH_ITEM_SCHEMA, "minItems": 1}
STRUCTURED = ("application/cloudevents+json", "application/json")
BATCH = ("application/cloudevents-batch+json", "application/json")


def outcome_json(outcome: EventOutcome) -> dict[str, Any]:
    """An EventResult as JSON, built directly (a batch answers 1,000 of them)."""
    body: dict[str, Any] = {"index": outcome.index, "status": outcome.status}
    for name in ("id", "source", "customer_id", "event_pk"):
        if (value := getattr(outcome, name)) is not None:
            body[name] = value
    body["errors"] = outcome.errors
    return body


def batch_response(outcomes: list[EventOutcome]) -> JSONResponse:
    """202 all accepted, 200 all duplicates, 422 all rejected, 207 for any mix."""
    counts = {s: sum(1 for o in outcomes if o.status == s)
              for s in ("accepted", "duplicate", "rejected")}
    body: dict[str, Any] = {**counts, "results": [outcome_json(o) for o in outcomes]}
    total = len(outcomes)
    if counts["rejected"] == total:
        raise ValidationFailed("No event in the batch is valid.",
                               errors=[e for o in outcomes for e in o.errors], **body)
    status = 202 if counts["accepted"] == total else 200 if counts["duplicate"] == total else 207
    return JSONResponse(body, status_code=status)


def single_event_response(session: Session, item: Any) -> JSONResponse:
    """Store one event: 202 accepted, 200 duplicate, 422 naming its invalid fields."""
    return single_outcome_response(ingest_events(session, items=[item], field_prefix=False)[0])


def single_event_commits(db: Database, *, max_items: int,
                         on_flush: Callable[[int], None] | None = None
                         ) -> GroupCommit[Any, EventOutcome]:
    """``POST /v1/events`` requests that arrive together share one transaction and commit
    (shared/group_commit.py); each is still answered with its own event's outcome."""

    def store(items: list[Any]) -> list[EventOutcome]:
        with db.transaction() as session:
            outcomes = ingest_events(session, items=items, field_prefix=False)
        return [replace(outcome, index=0) for outcome in outcomes]

    return GroupCommit(store, max_items=max_items, on_flush=on_flush)


def single_outcome_response(outcome: EventOutcome) -> JSONResponse:
    if outcome.status == "rejected":
        raise ValidationFailed("The event did not validate.", errors=outcome.errors)
    return JSONResponse(outcome_json(outcome),
                        status_code=202 if outcome.status == "accepted" else 200)


def batch_events_response(session: Session, items: list[Any], *, limit: int) -> JSONResponse:
    """Store a batch after checking its size: each event gets its own outcome."""
    if not items:
        raise ValidationFailed("The batch is empty.",
                               errors=[field_error("body", "at least one event is required")])
    if len(items) > limit:
        raise PayloadTooLarge(f"The batch holds {len(items)} events; at most {limit}.",
                              errors=[field_error("body", f"at most {limit} events")])
    return batch_response(ingest_events(session, items=items))


def _binary_event(request: Request, body: bytes, media: str) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in request.headers.items()}
    event: dict[str, Any] = {k[3:]: v for k, v in headers.items() if k.startswith("ce-")}
    if media:
        event["datacontenttype"] = request.headers.get("content-type")
    if not body:
        return event
    # No Content-Type: the data is JSON (the HTTP binding's default for an absent
    # datacontenttype, and what the CloudEvents Python SDK sends when it is unset).
    if not media or is_json(media):
        event["data"] = parse_json(body)
    elif media.startswith("text/"):
        try:
            event["data"] = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The body is not UTF-8 text.", errors=[
                field_error("body", "text data must be UTF-8")]) from None
    else:
        event["data_base64"] = base64.b64encode(body).decode("ascii")
    return event


@router.post(
    "",
    operation_id="events-ingest",
    summary="Send one CloudEvent",
    description=(
        "Structured mode (`application/cloudevents+json`, or `application/json` with the same "
        "fields) or binary mode (`ce-*` headers, `data` in the body). Known types have their "
        "`data` validated. De-duplicated on (`source`, `id`): **202** accepted, **200** "
        "duplicate (stored once). An event for an unknown customer creates a minimal customer "
        "flagged incomplete. Scoring and alerts work is enqueued in the same transaction."
    ),
    status_code=202,
    response_model=EventResult,
    **secured("ingest:write", extra_errors=(400, 415, 422), responses={
        200: {"model": EventResult, "description": "Duplicate: stored before, not again"}},
        request_body={
        "required": True, "content": {
            "application/cloudevents+json": {"schema": CLOUDEVENT_SCHEMA,
                                             "example": CLOUDEVENT_EXAMPLE},
            "application/json": {"schema": CLOUDEVENT_SCHEMA, "example": CLOUDEVENT_EXAMPLE},
        }}),
)
async def post_event(request: Request, body: bytes = Depends(raw_body)) -> JSONResponse:
    item = _single_event(request, body)
    commits: GroupCommit[Any, EventOutcome] = request.app.state.single_events
    return single_outcome_response(await commits.submit(item))


def _single_event(request: Request, body: bytes) -> Any:
    """The one event of a ``POST /v1/events``, binary or structured mode."""
    media = media_type(request)
    if "ce-specversion" in request.headers:
        item = _binary_event(request, body, media)
    elif media in STRUCTURED:
        item = parse_json(body)
        if isinstance(item, list):
            raise UnsupportedMediaType("A JSON array is a batch: send it to /v1/events/batch.")
    elif media == "application/cloudevents-batch+json":
        raise UnsupportedMediaType("Batches go to /v1/events/batch.")
    else:
        raise UnsupportedMediaType(
            f"Content type '{media or 'none'}' is not accepted: use "
            "application/cloudevents+json, application/json, or binary mode (ce-* headers).")
    return item


@router.post(
    "/batch",
    operation_id="events-ingest-batch",
    summary="Send a batch of CloudEvents",
    description=(
        "`application/cloudevents-batch+json` or a plain JSON array, up to 1,000 events "
        "(configurable). Valid events are stored even when others are not; the answer lists "
        "every event's outcome. **202** all accepted, **200** all duplicates, **207** mixed, "
        "**422** none valid."
    ),
    status_code=202,
    response_model=BatchResult,
    **secured("ingest:write", extra_errors=(400, 413, 415, 422), responses={
        200: {"model": BatchResult, "description": "All duplicates: nothing stored again"},
        207: {"model": BatchResult, "description": "Mixed outcomes"}}, request_body={
        "required": True, "content": {
            "application/cloudevents-batch+json": {
                "schema": BATCH_SCHEMA, "example": [CLOUDEVENT_EXAMPLE]},
            "application/json": {"schema": BATCH_SCHEMA},
        }}),
)
def post_batch(request: Request, body: bytes = Depends(raw_body),
               db: Database = DatabaseDep,
               settings: IngestSettings = Depends(ingest_settings)) -> JSONResponse:
    media = media_type(request)
    if media not in BATCH:
        raise UnsupportedMediaType(
            f"Content type '{media or 'none'}' is not accepted: use "
            "application/cloudevents-batch+json or application/json.")
    items = parse_json(body)
    if not isinstance(items, list):
        raise BadRequest("A batch is a JSON array of events.",
                         errors=[field_error("body", "must be a JSON array")])
    with db.transaction() as session:
        return batch_events_response(session, items, limit=settings.max_batch_events)
