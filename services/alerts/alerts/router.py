"""/v1/alerts: list and filter, counts for dashboards, one alert with why it fired, and the
lifecycle (acknowledge, resolve, reopen, assign, comment)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.alerts.alerts import service
from services.alerts.alerts.schemas import (
    AlertFilter,
    AlertOut,
    AlertPage,
    AssignIn,
    CommentIn,
    CommentOut,
    Counts,
)
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.models.alerts import AlertStatus, Severity
from shared.validation import INT64_MAX, RowId

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


def _filters(status: list[AlertStatus] | None, severity: list[Severity] | None,
             rule_id: int | None, customer_id: str | None, tier: str | None,
             assignee: str | None, silenced: bool | None, opened_after: dt.datetime | None,
             opened_before: dt.datetime | None, seen_after: dt.datetime | None) -> AlertFilter:
    return AlertFilter(status=status, severity=severity, rule_id=rule_id,
                       customer_id=customer_id, tier=tier, assignee=assignee,
                       silenced=silenced, opened_after=opened_after,
                       opened_before=opened_before, seen_after=seen_after)


@router.get("", operation_id="alerts-list", summary="List alerts",
            description="Newest first, filtered by status, severity, rule, customer, tier, "
                        "assignee, silenced and time; `cursor` pages on. `since_id` lists "
                        "oldest first the alerts created after that id (to follow new ones).",
            response_model=AlertPage, **secured("alerts:read", extra_errors=[400, 422]))
def list_alerts(
    db: Database = DatabaseDep,
    status: Annotated[list[AlertStatus] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    customer_id: Text = None, tier: Text = None, assignee: Text = None,
    silenced: bool | None = None,
    opened_after: dt.datetime | None = None, opened_before: dt.datetime | None = None,
    seen_after: dt.datetime | None = None,
    since_id: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    filters = _filters(status, severity, rule_id, customer_id, tier, assignee, silenced,
                       opened_after, opened_before, seen_after)
    with db.read() as session:
        return service.list_alerts(session, filters=filters, cursor=cursor,
                                   since_id=since_id, limit=limit)


@router.get("/counts", operation_id="alerts-counts", summary="Alert counts for dashboards",
            description="Counts by status and by severity (and unresolved by severity), "
                        "under the same filters as the list.",
            response_model=Counts, **secured("alerts:read", extra_errors=[422]))
def count_alerts(
    db: Database = DatabaseDep,
    status: Annotated[list[AlertStatus] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    customer_id: Text = None, tier: Text = None, assignee: Text = None,
    silenced: bool | None = None,
    opened_after: dt.datetime | None = None, opened_before: dt.datetime | None = None,
) -> Counts:
    filters = _filters(status, severity, rule_id, customer_id, tier, assignee, silenced,
                       opened_after, opened_before, None)
    with db.read() as session:
        return service.count_alerts(session, filters=filters)


@router.get("/{alert_id}", operation_id="alerts-get", summary="One alert and why it fired",
            description="The values that crossed (first and latest hit), the customer's top "
                        "risk reasons when it opened, the rule version, and the comments.",
            response_model=AlertOut, **secured("alerts:read", extra_errors=[404]))
def get_alert(alert_id: RowId, db: Database = DatabaseDep) -> AlertOut:
    with db.read() as session:
        return service.get_alert(session, alert_id)


@router.post("/{alert_id}/acknowledge", operation_id="alerts-acknowledge",
             summary="Acknowledge an open alert",
             description="open → acknowledged (someone is on it: no repeat notifications). "
                         "409 from any other status. Audited.",
             response_model=AlertOut, **secured("alerts:write", extra_errors=[404, 409]))
def acknowledge(alert_id: RowId, request: Request, db: Database = DatabaseDep) -> AlertOut:
    with db.transaction() as session:
        return service.acknowledge(session, alert_id=alert_id,
                                   actor=current_principal(request).actor)


@router.post("/{alert_id}/resolve", operation_id="alerts-resolve", summary="Resolve an alert",
             description="open or acknowledged → resolved; the rule's cooldown starts. "
                         "Receivers are told. 409 when resolved already. Audited.",
             response_model=AlertOut, **secured("alerts:write", extra_errors=[404, 409]))
def resolve(alert_id: RowId, request: Request, db: Database = DatabaseDep) -> AlertOut:
    with db.transaction() as session:
        return service.resolve(session, alert_id=alert_id,
                               actor=current_principal(request).actor)


@router.post("/{alert_id}/reopen", operation_id="alerts-reopen", summary="Reopen an alert",
             description="resolved → open; 409 when another alert of the same rule and "
                         "customer is open. Receivers are told. Audited.",
             response_model=AlertOut, **secured("alerts:write", extra_errors=[404, 409]))
def reopen(alert_id: RowId, request: Request, db: Database = DatabaseDep) -> AlertOut:
    with db.transaction() as session:
        return service.reopen(session, alert_id=alert_id,
                              actor=current_principal(request).actor)


@router.put("/{alert_id}/assignee", operation_id="alerts-assign",
            summary="Assign an alert (null unassigns)",
            description="Audited. With `if_unassigned`, 409 when someone else holds it "
                        "(how a desk takes the next alert without two people on one).",
            response_model=AlertOut, **secured("alerts:write", extra_errors=[404, 409, 422]))
def assign(alert_id: RowId, body: AssignIn, request: Request,
           db: Database = DatabaseDep) -> AlertOut:
    with db.transaction() as session:
        return service.assign(session, alert_id=alert_id, assignee=body.assignee,
                              actor=current_principal(request).actor,
                              if_unassigned=body.if_unassigned)


@router.get("/{alert_id}/comments", operation_id="alerts-comments",
            summary="An alert's comments", description="Oldest first.",
            response_model=list[CommentOut], **secured("alerts:read", extra_errors=[404]))
def list_comments(alert_id: RowId, db: Database = DatabaseDep) -> list[CommentOut]:
    with db.read() as session:
        return service.comments(session, alert_id=alert_id)


@router.post("/{alert_id}/comments", operation_id="alerts-comment", summary="Comment",
             description="The author is the caller's key. Audited.", status_code=201,
             response_model=CommentOut, **secured("alerts:write", extra_errors=[404, 422]))
def add_comment(alert_id: RowId, body: CommentIn, request: Request,
                db: Database = DatabaseDep) -> CommentOut:
    with db.transaction() as session:
        return service.comment(session, alert_id=alert_id, body=body.body,
                               actor=current_principal(request).actor)
