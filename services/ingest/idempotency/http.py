"""The HTTP side of Idempotency-Key: the header's OpenAPI entry and the wrapper that answers a
route's work, or its stored answer on a replay (used by the customer and import POSTs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.ingest.http import settings_of
from services.ingest.idempotency import service
from shared.auth import current_principal

IDEMPOTENCY_PARAMETER = {
    "name": service.HEADER, "in": "header", "required": False,
    "description": "Any unique string (e.g. a UUID). A retry with the same key and body gets "
                   "the stored answer; the same key with another body is refused (422); while "
                   "the first request still runs the retry gets 409.",
    "schema": {"type": "string", "maxLength": 255},
}


def idempotent(request: Request, session: Session, *, request_hash: str,
               work: Callable[[], tuple[int, Any]]) -> JSONResponse:
    key = request.headers.get(service.HEADER)
    if key is None:
        status, body = work()
        return JSONResponse(jsonable_encoder(body), status_code=status)
    owner = current_principal(request).key_id
    retention = dt.timedelta(hours=settings_of(request).idempotency_retention_hours)
    stored = service.begin(session, owner=owner, key=key, request_hash=request_hash,
                           retention=retention)
    if stored is not None:
        return JSONResponse(stored.body, status_code=stored.status,
                            headers={"Idempotent-Replayed": "true"})
    status, body = work()
    encoded = jsonable_encoder(body)
    service.finish(session, owner=owner, key=key, status=status, body=encoded)
    return JSONResponse(encoded, status_code=status)
