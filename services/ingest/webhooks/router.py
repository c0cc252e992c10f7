"""POST /v1/webhooks/{adapter}: Zoho CRM, Salesforce and Standard-Webhooks-signed senders.

The gateway lets these paths through without an API key (a CRM cannot send ours), so each
adapter authenticates the caller itself before anything is parsed into the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.ingest.events.cloudevents import parse_time
from services.ingest.events.router import (
    CLOUDEVENT_EXAMPLE,
    CLOUDEVENT_SCHEMA,
    batch_events_response,
    single_event_response,
)
from services.ingest.events.service import ingest_events
from services.ingest.http import ingest_settings, is_json, media_type, parse_json, raw_body
from services.ingest.settings import IngestSettings
from services.ingest.sources.schemas import Adapter
from services.ingest.sources.service import secrets_for
from services.ingest.webhooks import salesforce, zoho
from services.ingest.webhooks.service import first_delivery, upsert_from_crm
from services.ingest.webhooks.signatures import SignatureInvalid, verify
from shared.app import DatabaseDep
from shared.db import Database
from shared.errors import (
    BadRequest,
    Unauthorized,
    UnsupportedMediaType,
    field_error,
    problem_responses,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger("riskwatch.ingest.webhooks")


class WebhookUnauthorized(Unauthorized):
    code, title = "webhook-unauthorized", "Webhook sender not authenticated"


def _refuse(adapter: str, reason: str) -> WebhookUnauthorized:
    # The reason names what failed, never a secret or the token that was sent.
    log.warning("webhook refused", extra={"fields": {"adapter": adapter, "reason": reason}})
    return WebhookUnauthorized(f"The {adapter} delivery was not authenticated: {reason}.")


def _matches(expected: list[str], given: str) -> bool:
    """Constant-time comparison against every configured token."""
    matched = False
    for token in expected:
        matched |= hmac.compare_digest(token.encode(), given.encode())
    return matched


@router.post(
    "/generic/{source}",
    operation_id="webhooks-generic",
    summary="Signed webhook (Standard Webhooks) carrying CloudEvents",
    description=(
        "For any system that signs with the Standard Webhooks scheme: headers `webhook-id`, "
        "`webhook-timestamp` (Unix seconds, ±5 minutes) and `webhook-signature` (space-"
        "separated `v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>`, several allowed "
        "during key rotation), with the secret configured for `{source}` (environment or "
        "`PUT /v1/webhook-sources/generic/{source}`). The body is one "
        "CloudEvent (answered like `POST /v1/events`) or a JSON array (answered like "
        "`POST /v1/events/batch`). A bad or stale signature is **401** and nothing is stored; "
        "a redelivered `webhook-id` is answered **200** `duplicate`. No API key needed."
    ),
    status_code=202,
    responses=problem_responses(400, 401, 413, 415, 422),
    openapi_extra={"security": [], "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [
            CLOUDEVENT_SCHEMA, {"type": "array", "items": CLOUDEVENT_SCHEMA}]},
            "example": CLOUDEVENT_EXAMPLE}}}},
)
def post_generic(source: str, request: Request, body: bytes = Depends(raw_body),
                 db: Database = DatabaseDep,
                 settings: IngestSettings = Depends(ingest_settings)) -> JSONResponse:
    with db.transaction() as session:
        secrets = secrets_for(session, settings, adapter=Adapter.generic, name=source)
        if not secrets:
            raise _refuse(f"generic/{source}", "no secret is configured for this source")
        msg_id = request.headers.get("webhook-id")
        try:
            verify(secrets, msg_id=msg_id,
                   timestamp=request.headers.get("webhook-timestamp"),
                   signatures=request.headers.get("webhook-signature"), body=body,
                   tolerance=settings.webhook_tolerance_seconds)
        except SignatureInvalid as exc:
            raise _refuse(f"generic/{source}", str(exc)) from None
        assert msg_id is not None
        if not is_json(media_type(request)):
            raise UnsupportedMediaType("Send the CloudEvent or batch as JSON.")
        payload = parse_json(body)
        if not first_delivery(session, adapter=f"generic/{source}", delivery_id=msg_id):
            return JSONResponse({"status": "duplicate", "webhook_id": msg_id}, status_code=200)
        if isinstance(payload, list):
            return batch_events_response(session, payload, limit=settings.max_batch_events)
        return single_event_response(session, payload)


@router.post(
    "/zoho-crm",
    operation_id="webhooks-zoho-crm",
    summary="Zoho CRM notification callback",
    description=(
        "The Notifications API callback (`server_time`, `module`, `resource_uri`, `ids`, "
        "`operation`, `channel_id`, `token`, `affected_fields`, `affected_values`). The "
        "`token` must match the one configured for `channel_id`. Accounts records become "
        "customer upserts (alias `zoho-crm` → record id, versioned by `server_time`); other "
        "modules' records become events `zoho-crm.<module>.<operation>` for the record's "
        "account (its `Account_Name` lookup; records without one are ignored). A retried "
        "notification stores nothing twice. No API key needed."
    ),
    responses=problem_responses(400, 401),
    openapi_extra={"security": []},
)
def post_zoho(body: bytes = Depends(raw_body), db: Database = DatabaseDep,
              settings: IngestSettings = Depends(ingest_settings)) -> dict[str, Any]:
    with db.transaction() as session:
        try:
            note = zoho.parse(parse_json(body))
        except zoho.NotificationInvalid as exc:
            raise BadRequest(f"Not a Zoho CRM notification: {exc}.",
                             errors=[field_error("body", str(exc))]) from None
        expected = secrets_for(session, settings, adapter=Adapter.zoho_crm, name=note.channel_id)
        if not expected:
            raise _refuse(zoho.ADAPTER, "unknown channel_id")
        if not _matches(expected, note.token):
            raise _refuse(zoho.ADAPTER, "token does not match the channel")
        digest = hashlib.sha256(body).hexdigest()
        if not first_delivery(session, adapter=zoho.ADAPTER, delivery_id=digest):
            return {"status": "duplicate"}
        customers: dict[str, int] = {}
        events: list[dict[str, Any]] = []
        ignored = 0
        stamp = int(note.server_time.timestamp() * 1000) if note.server_time else 0
        for record_id in note.ids:
            values = note.values.get(record_id, {})
            if note.module == "Accounts" and note.operation != "delete":
                outcome = upsert_from_crm(session, source=zoho.ADAPTER, external_id=record_id,
                                          fields=zoho.account_fields(values),
                                          version=note.server_time)
                customers[outcome.status] = customers.get(outcome.status, 0) + 1
                continue
            subject = record_id if note.module == "Accounts" else zoho.account_of(values)
            if subject is None:
                ignored += 1
                continue
            event: dict[str, Any] = {
                "specversion": "1.0", "id": f"{note.module}/{record_id}/{note.operation}/{stamp}",
                "source": zoho.ADAPTER, "subject": subject,
                "type": f"zoho-crm.{note.module.lower()}.{note.operation}",
                "data": {"module": note.module, "record_id": record_id,
                         "operation": note.operation, "values": values},
            }
            if note.server_time:
                event["time"] = note.server_time.isoformat()
            events.append(event)
        outcomes = ingest_events(session, items=events) if events else []
        return {"status": "accepted", "customers": customers,
                "events": {s: sum(1 for o in outcomes if o.status == s)
                           for s in ("accepted", "duplicate", "rejected")},
                "ignored": ignored}


@router.post(
    "/salesforce",
    operation_id="webhooks-salesforce",
    summary="Salesforce Outbound Message",
    description=(
        "A SOAP `notifications` message with up to 100 `Notification{Id, sObject}`, answered "
        "with the SOAP `Ack`. Configure the outbound message's endpoint URL as "
        "`…/v1/webhooks/salesforce?token=<token>`; the token must match the one configured "
        "for the message's `OrganizationId`. Account objects become customer upserts (alias "
        "`salesforce` → Account Id, versioned by `LastModifiedDate`); other objects become "
        "events `salesforce.<object>.updated` for their `AccountId`. De-duplicated on the "
        "notification `Id`. DTDs are refused. No API key needed."
    ),
    response_class=Response,
    responses={200: {"description": "SOAP Ack", "content": {"text/xml": {}}},
               **problem_responses(400, 401)},
    openapi_extra={"security": [], "requestBody": {"required": True, "content": {
        "text/xml": {"schema": {"type": "string"}}}}},
)
def post_salesforce(token: str | None = Query(None, description="The configured token"),
                    body: bytes = Depends(raw_body), db: Database = DatabaseDep,
                    settings: IngestSettings = Depends(ingest_settings)) -> Response:
    with db.transaction() as session:
        try:
            message = salesforce.parse(body)
        except salesforce.MessageInvalid as exc:
            raise BadRequest(f"Not a Salesforce outbound message: {exc}.",
                             errors=[field_error("body", str(exc))]) from None
        expected = secrets_for(session, settings, adapter=Adapter.salesforce,
                               name=message.organization_id)
        if not expected:
            raise _refuse(salesforce.ADAPTER, "unknown OrganizationId")
        if token is None or not _matches(expected, token):
            raise _refuse(salesforce.ADAPTER, "token missing or wrong")
        events: list[dict[str, Any]] = []
        for obj in message.objects:
            if not first_delivery(session, adapter=salesforce.ADAPTER,
                                  delivery_id=obj.notification_id):
                continue
            modified = _sf_time(obj.fields.get("LastModifiedDate"))
            if obj.type == "Account" and obj.fields.get("Id"):
                upsert_from_crm(session, source=salesforce.ADAPTER, external_id=obj.fields["Id"],
                                fields=salesforce.account_fields(obj.fields), version=modified)
                continue
            account = obj.fields.get("AccountId")
            if not account:
                log.warning("salesforce object without AccountId ignored",
                            extra={"fields": {"type": obj.type}})
                continue
            event: dict[str, Any] = {
                "specversion": "1.0", "id": obj.notification_id,
                "source": salesforce.ADAPTER, "subject": account,
                "type": f"salesforce.{obj.type.lower()}.updated", "data": obj.fields,
                "organizationid": message.organization_id}
            if modified:
                event["time"] = modified.isoformat()
            events.append(event)
        if events:
            for outcome in ingest_events(session, items=events):
                if outcome.status == "rejected":
                    log.warning("salesforce notification rejected",
                                extra={"fields": {"errors": outcome.errors}})
        return Response(salesforce.ACK, media_type="text/xml")


def _sf_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
