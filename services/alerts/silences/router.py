"""/v1/silences: alerts matching a silence are recorded, marked silenced, and not notified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.alerts.silences import service
from services.alerts.silences.schemas import SilenceIn, SilenceOut, SilenceState
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import RowId

router = APIRouter(prefix="/v1/silences", tags=["silences"])


@router.post("", operation_id="silences-create", summary="Create a silence",
             description="Matchers (rule_id, customer_id, tier, severity: at least one, all "
                         "must match), a start (default now), an end and a comment; the "
                         "author is the caller's key. Audited.",
             status_code=201, response_model=SilenceOut,
             **secured("alerts:write", extra_errors=[422]))
def create_silence(body: SilenceIn, request: Request,
                   db: Database = DatabaseDep) -> SilenceOut:
    with db.transaction() as session:
        return service.create(session, body=body, actor=current_principal(request).actor)


@router.get("", operation_id="silences-list", summary="List silences",
            description="Newest first (the latest 1,000), optionally by state.",
            response_model=list[SilenceOut], **secured("alerts:read", extra_errors=[422]))
def list_silences(db: Database = DatabaseDep,
                  state: Annotated[list[SilenceState] | None, Query()] = None
                  ) -> list[SilenceOut]:
    with db.read() as session:
        return service.listing(session, states=state)


@router.get("/{silence_id}", operation_id="silences-get", summary="One silence",
            description="With its state (pending, active, expired).",
            response_model=SilenceOut, **secured("alerts:read", extra_errors=[404]))
def get_silence(silence_id: RowId, db: Database = DatabaseDep) -> SilenceOut:
    with db.read() as session:
        return service.get(session, silence_id)


@router.delete("/{silence_id}", operation_id="silences-expire", summary="Expire a silence now",
               description="The silence stops applying at once (it stays listed, expired). "
                            "409 when expired already. Audited.",
               status_code=204, response_class=Response,
               **secured("alerts:write", extra_errors=[404, 409]))
def expire_silence(silence_id: RowId, request: Request, db: Database = DatabaseDep) -> Response:
    with db.transaction() as session:
        service.expire(session, silence_id=silence_id, actor=current_principal(request).actor)
    return Response(status_code=204)
