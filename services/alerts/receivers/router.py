"""/v1/receivers (where notifications go, their deliveries, tests and redeliveries) and
/v1/alerts/{alert_id}/deliveries. Reads need ``alerts:read``, changes ``alerts:write``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.alerts.receivers import deliveries, service
from services.alerts.receivers.schemas import (
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    ReceiverIn,
    ReceiverOut,
    ReceiverPatch,
)
from services.alerts.receivers.settings import ReceiverSettings, get_receiver_settings
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import RowId

router = APIRouter(tags=["receivers"])
SettingsDep = Depends(get_receiver_settings)
Limit = Annotated[int, Query(ge=1, le=200, description="deliveries per page")]
Before = Annotated[RowId | None, Query(description="cursor: deliveries older than this id")]


@router.post("/v1/receivers", operation_id="receivers-create", status_code=201,
             summary="Add a receiver",
             description="A signed webhook (`url` + `secret`, Standard Webhooks), an e-mail "
                         "receiver (`apprise_url`: mailto:// or mailtos://) or a chat tool "
                         "(`apprise_url`: slack://, msteams://, dingtalk://, wecombot://, "
                         "feishu://, …), with filters on severity, rule and tier. Secrets "
                         "are stored encrypted and never returned; the change is audited "
                         "without them. A taken name: 409.",
             response_model=ReceiverOut, **secured("alerts:write", extra_errors=[409, 422]))
def create_receiver(body: ReceiverIn, request: Request, db: Database = DatabaseDep,
                    settings: ReceiverSettings = SettingsDep) -> ReceiverOut:
    with db.transaction() as session:
        return service.create(session, settings, body=body,
                              actor=current_principal(request).actor)


@router.get("/v1/receivers", operation_id="receivers-list", summary="List receivers",
            description="Every receiver with its filters; secrets show only as `secret_set`.",
            response_model=list[ReceiverOut], **secured("alerts:read"))
def list_receivers(db: Database = DatabaseDep) -> list[ReceiverOut]:
    with db.read() as session:
        return service.list_receivers(session)


@router.get("/v1/receivers/{receiver_id}", operation_id="receivers-get",
            summary="Show a receiver", description="One receiver; secrets never shown.",
            response_model=ReceiverOut, **secured("alerts:read", extra_errors=[404, 422]))
def get_receiver(receiver_id: RowId, db: Database = DatabaseDep) -> ReceiverOut:
    with db.read() as session:
        return service.to_out(service.get(session, receiver_id))


@router.patch("/v1/receivers/{receiver_id}", operation_id="receivers-update",
              summary="Change a receiver",
              description="Fields left out keep their value; a new `secret` or "
                          "`apprise_url` replaces the stored one (rotation). The kind "
                          "cannot change. Audited without the secret.",
              response_model=ReceiverOut,
              **secured("alerts:write", extra_errors=[404, 409, 422]))
def update_receiver(receiver_id: RowId, body: ReceiverPatch, request: Request,
                    db: Database = DatabaseDep,
                    settings: ReceiverSettings = SettingsDep) -> ReceiverOut:
    with db.transaction() as session:
        return service.update(session, settings, receiver_id=receiver_id, body=body,
                              actor=current_principal(request).actor)


@router.delete("/v1/receivers/{receiver_id}", operation_id="receivers-delete",
               summary="Remove a receiver",
               description="Its pending deliveries are dropped and its delivery history "
                           "removed with it. Audited.",
               status_code=204, response_class=Response,
               **secured("alerts:write", extra_errors=[404, 422]))
def delete_receiver(receiver_id: RowId, request: Request,
                    db: Database = DatabaseDep) -> Response:
    with db.transaction() as session:
        service.delete(session, receiver_id=receiver_id, actor=current_principal(request).actor)
    return Response(status_code=204)


@router.post("/v1/receivers/{receiver_id}/test", operation_id="receivers-test",
             summary="Send a test notification now",
             description="Sends a sample notification to the receiver while you wait (one "
                         "try, within the delivery timeout, no retries) and answers the "
                         "recorded delivery: `status` delivered or failed, with the status "
                         "code, duration and answer of the try. Works on a disabled "
                         "receiver too, to check it before enabling it.",
             response_model=DeliveryOut, **secured("alerts:write", extra_errors=[404, 422]))
def test_receiver(receiver_id: RowId, request: Request, db: Database = DatabaseDep,
                  settings: ReceiverSettings = SettingsDep) -> DeliveryOut:
    return deliveries.send_test(db, settings, receiver_id=receiver_id,
                                actor=current_principal(request).actor)


@router.get("/v1/receivers/{receiver_id}/deliveries", operation_id="receivers-deliveries",
            summary="A receiver's deliveries, with every attempt",
            description="Newest first; `before` pages back (`next_cursor`). Each delivery "
                        "lists its attempts: status code, duration, up to 2 KB of the "
                        "answer, error and when the next try is due.",
            response_model=DeliveryPage, **secured("alerts:read", extra_errors=[404, 422]))
def receiver_deliveries(receiver_id: RowId, status: DeliveryStatus | None = None,
                        before: Before = None, limit: Limit = 50,
                        db: Database = DatabaseDep) -> DeliveryPage:
    with db.read() as session:
        return deliveries.page(session, receiver_id=receiver_id, status=status,
                               before=before, limit=limit)


@router.post("/v1/receivers/{receiver_id}/deliveries/{delivery_id}/redeliver",
             operation_id="receivers-redeliver", status_code=202,
             summary="Send a delivery again",
             description="Queues a new delivery of the same notification (same "
                         "`webhook-id`, so the receiver can tell it is a resend) with a "
                         "fresh set of tries; `redelivery_of` names the original. 409 while "
                         "the original is still being tried or the receiver is disabled.",
             response_model=DeliveryOut,
             **secured("alerts:write", extra_errors=[404, 409, 422]))
def redeliver(receiver_id: RowId, delivery_id: RowId, request: Request,
              db: Database = DatabaseDep) -> DeliveryOut:
    with db.transaction() as session:
        return deliveries.redeliver(session, receiver_id=receiver_id, delivery_id=delivery_id,
                                    actor=current_principal(request).actor)


@router.get("/v1/alerts/{alert_id}/deliveries", operation_id="receivers-alert-deliveries",
            summary="An alert's deliveries, with every attempt",
            description="Every notification of this alert to every receiver, newest first.",
            response_model=DeliveryPage, **secured("alerts:read", extra_errors=[422]))
def alert_deliveries(alert_id: RowId, before: Before = None, limit: Limit = 50,
                     db: Database = DatabaseDep) -> DeliveryPage:
    with db.read() as session:
        return deliveries.page(session, alert_id=alert_id, before=before, limit=limit)
