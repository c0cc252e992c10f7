"""/v1/drills: rehearse a playbook on a synthetic customer, and read how it went. Reads
need ``alerts:read``, starting one ``alerts:write``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.alerts.drills import service
from services.alerts.drills.schemas import DrillIn, DrillOut, DrillPage
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import INT64_MAX, RowId

router = APIRouter(prefix="/v1/drills", tags=["drills"])


@router.post("", operation_id="drills-create", status_code=202, summary="Start a drill",
             description="Creates a synthetic customer marked as a drill and has the alerts "
                         "worker send the scenario's events (the playbook's `drill_events`, "
                         "or `events`) to ingest's API; from there they take the real path "
                         "to an alert and the playbook's run. Drill customers stay out of "
                         "portfolio figures, and their notifications reach only receivers "
                         "with `include_drills`. A disabled playbook: 409. Audited.",
             response_model=DrillOut, **secured("alerts:write", extra_errors=[404, 409, 422]))
def create_drill(body: DrillIn, request: Request, db: Database = DatabaseDep) -> DrillOut:
    with db.transaction() as session:
        return service.create(session, body=body, actor=current_principal(request).actor)


@router.get("", operation_id="drills-list", summary="List drills",
            description="Newest first, optionally of one playbook; `before` pages on.",
            response_model=DrillPage, **secured("alerts:read", extra_errors=[422]))
def list_drills(
    db: Database = DatabaseDep,
    playbook_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    before: Annotated[RowId | None, Query(description="drills older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DrillPage:
    with db.read() as session:
        return service.page(session, playbook_id=playbook_id, before=before, limit=limit)


@router.get("/{drill_id}", operation_id="drills-get", summary="How a drill went",
            description="Its status (sending, send_failed, waiting_for_alert, running, "
                        "completed), and the times: event stored → alert raised (to "
                        "detect), → acknowledged, → run completed.",
            response_model=DrillOut, **secured("alerts:read", extra_errors=[404, 422]))
def get_drill(drill_id: RowId, db: Database = DatabaseDep) -> DrillOut:
    with db.read() as session:
        return service.get(session, drill_id=drill_id)
