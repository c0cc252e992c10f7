"""POST /v1/webhooks/{adapter}: Zoho CRM, Salesforce and Standard-Webhooks-signed senders.

The gateway lets these paths through without an API key (a CRM cannot send ours), so each
adapter authenticates the caller itself before anything is parsed into the database (see
the webhooks service)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from services.ingest.events.router import (
    CLOUDEVENT_EXAMPLE,
    CLOUDEVENT_SCHEMA,
    batch_events_response,
    single_event_response,
)
from services.ingest.http import (
    capped_body,
    ingest_settings,
    is_json,
    media_type,
    parse_json,
    raw_body,
)
from services.ingest.settings import IngestSettings
from services.ingest.webhooks import salesforce, service
from services.ingest.webhooks.schemas import ZohoReceipt
from shared.app import DatabaseDep
from shared.db import Database
from shared.errors import UnsupportedMediaType, problem_responses

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


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
        msg_id = service.authenticate_generic(
            session, settings, source=source, msg_id=request.headers.get("webhook-id"),
            timestamp=request.headers.get("webhook-timestamp"),
            signatures=request.headers.get("webhook-signature"), body=body)
        if not is_json(media_type(request)):
            raise UnsupportedMediaType("Send the CloudEvent or batch as JSON.")
        payload = parse_json(body)
        if not service.first_delivery(session, adapter=f"generic/{source}",
                                      delivery_id=msg_id):
            return JSONResponse({"status": "duplicate", "webhook_id": msg_id},
                                status_code=200)
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
    response_model=ZohoReceipt,
    response_model_exclude_none=True,
    responses=problem_responses(400, 401, 422),
    openapi_extra={"security": []},
)
def post_zoho(body: bytes = Depends(raw_body), db: Database = DatabaseDep,
              settings: IngestSettings = Depends(ingest_settings)) -> ZohoReceipt:
    with db.transaction() as session:
        return service.receive_zoho(session, settings, body=body, payload=parse_json(body))


async def salesforce_body(request: Request) -> bytes:
    """The body, refused (413) past ``RISKWATCH_INGEST_SALESFORCE_MAX_BODY_BYTES``."""
    settings: IngestSettings = request.app.state.ingest_settings
    return await capped_body(request, limit=settings.salesforce_max_body_bytes)


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
               **problem_responses(400, 401, 413, 422)},
    openapi_extra={"security": [], "requestBody": {"required": True, "content": {
        "text/xml": {"schema": {"type": "string"}}}}},
)
def post_salesforce(token: str | None = Query(None, description="The configured token"),
                    body: bytes = Depends(salesforce_body), db: Database = DatabaseDep,
                    settings: IngestSettings = Depends(ingest_settings)) -> Response:
    with db.transaction() as session:
        service.receive_salesforce(session, settings, token=token, body=body)
    return Response(salesforce.ACK, media_type="text/xml")


@router.post(
    "/fxiaoke",
    operation_id="webhooks-fxiaoke",
    summary="Fxiaoke (纷享销客) open-platform push",
    description=(
        "The open platform's encrypted push: a JSON body `{nonce, timeStamp, content, sig}`. "
        "The time stamp (ms) must be within `RISKWATCH_INGEST_WEBHOOK_TOLERANCE_SECONDS` and "
        "`sig` (SHA-1 over the sorted token, timeStamp, nonce and content) must match the "
        "token of a configured app (`PUT /v1/webhook-sources/fxiaoke/{app}` with `[token, "
        "encodingAesKey]`) before `content` is decrypted (AES-256-CBC with the app's "
        "encodingAesKey). Answered with the plain text `success` the platform expects at once; "
        "the message is applied by the ingest worker: account (AccountObj, 客户) records "
        "become customer upserts (alias `fxiaoke` → record id), other CRM records events "
        "`fxiaoke.<object>.<eventType>` for their `account_id`. The platform's retry of the "
        "same message is queued once. No API key needed."
    ),
    response_class=PlainTextResponse,
    responses={200: {"description": "`success`: verified and queued (or a repeat)",
                     "content": {"text/plain": {"schema": {"type": "string",
                                                           "enum": ["success"]}}}},
               **problem_responses(400, 401, 422)},
    openapi_extra={"security": [], "requestBody": {"required": True, "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["nonce", "timeStamp", "content", "sig"],
            "properties": {"nonce": {"type": "string"},
                           "timeStamp": {"type": "string", "description": "ms since epoch"},
                           "content": {"type": "string", "description": "base64 AES"},
                           "sig": {"type": "string", "description": "hex SHA-1"}}}}}}},
)
def post_fxiaoke(body: bytes = Depends(raw_body), db: Database = DatabaseDep,
                 settings: IngestSettings = Depends(ingest_settings)) -> PlainTextResponse:
    with db.transaction() as session:
        service.receive_fxiaoke(session, settings, payload=parse_json(body),
                                now_ms=int(time.time() * 1000))
    return PlainTextResponse("success")
