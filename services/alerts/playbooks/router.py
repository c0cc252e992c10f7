"""/v1/playbooks (the plans, and their run statistics) and /v1/playbook-runs (the work list,
one run with its timeline, step transitions). Reads need ``alerts:read``, changes
``alerts:write``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from services.alerts.playbooks import runs, service
from services.alerts.playbooks.schemas import (
    PlaybookIn,
    PlaybookOut,
    PlaybookPatch,
    PlaybookStats,
    ReassignIn,
    RunCounts,
    RunFilter,
    RunOut,
    RunPage,
    SkipIn,
    StepAction,
)
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.models.playbooks import RunStatus
from shared.validation import INT64_MAX, RowId

router = APIRouter(prefix="/v1/playbooks", tags=["playbooks"])
runs_router = APIRouter(prefix="/v1/playbook-runs", tags=["playbook-runs"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]
Position = Annotated[int, Path(ge=1, le=50, description="the step's number, from 1")]


@router.get("", operation_id="playbooks-list", summary="List playbooks",
            description="Every playbook (built-in ones included), optionally only the "
                        "enabled or disabled ones.",
            response_model=list[PlaybookOut], **secured("alerts:read", extra_errors=[422]))
def list_playbooks(db: Database = DatabaseDep, enabled: bool | None = None
                   ) -> list[PlaybookOut]:
    with db.read() as session:
        return service.list_playbooks(session, enabled=enabled)


@router.post("", operation_id="playbooks-create", status_code=201,
             summary="Add a playbook",
             description="A trigger (alert rules, severities, tiers and/or the type of the "
                         "event that opened the alert) and ordered steps (title, "
                         "instructions, owner role, due within); optionally the events a "
                         "drill sends. A taken name: 409. Audited.",
             response_model=PlaybookOut, **secured("alerts:write", extra_errors=[409, 422]))
def create_playbook(body: PlaybookIn, request: Request,
                    db: Database = DatabaseDep) -> PlaybookOut:
    with db.transaction() as session:
        return service.create_playbook(session, body=body,
                                       actor=current_principal(request).actor)


@router.get("/{playbook_id}", operation_id="playbooks-get", summary="Show a playbook",
            description="One playbook.",
            response_model=PlaybookOut, **secured("alerts:read", extra_errors=[404, 422]))
def get_playbook(playbook_id: RowId, db: Database = DatabaseDep) -> PlaybookOut:
    with db.read() as session:
        return service.out(service.get_playbook(session, playbook_id))


@router.patch("/{playbook_id}", operation_id="playbooks-update",
              summary="Change a playbook",
              description="Only the fields sent change; `enabled: false` stops new runs. "
                          "Runs already started keep their steps. Audited.",
              response_model=PlaybookOut,
              **secured("alerts:write", extra_errors=[404, 409, 422]))
def update_playbook(playbook_id: RowId, body: PlaybookPatch, request: Request,
                    db: Database = DatabaseDep) -> PlaybookOut:
    with db.transaction() as session:
        return service.update_playbook(session, playbook_id=playbook_id, patch=body,
                                       actor=current_principal(request).actor)


@router.get("/{playbook_id}/stats", operation_id="playbooks-stats",
            summary="How a playbook's runs went",
            description="Runs, open and completed, and the median and p90 time from start "
                        "to completion (seconds, nearest rank), for runs on real customers "
                        "and for drills separately.",
            response_model=PlaybookStats, **secured("alerts:read", extra_errors=[404, 422]))
def playbook_stats(playbook_id: RowId, db: Database = DatabaseDep) -> PlaybookStats:
    with db.read() as session:
        return service.stats(session, playbook_id=playbook_id)


def run_filter(
    playbook_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    status: RunStatus | None = None,
    customer_id: Text = None, assignee: Text = None,
    owner_role: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,99}$")] = None,
    overdue: bool | None = None, drill: bool | None = None,
) -> RunFilter:
    """The filters the work list and its counts share, from the query string."""
    return RunFilter(playbook_id=playbook_id, status=status, customer_id=customer_id,
                     assignee=assignee, owner_role=owner_role, overdue=overdue, drill=drill)


RunFilterDep = Depends(run_filter)


@runs_router.get("", operation_id="playbook-runs-list", summary="Playbook runs: the work list",
                 description="Newest first. `assignee`, `owner_role` and `overdue=true` "
                             "select runs with an unfinished step matching them all (e.g. "
                             "`?assignee=j.doe&overdue=true`: what j.doe is late on); "
                             "`overdue=false` runs with no overdue step. `cursor` pages on.",
                 response_model=RunPage, **secured("alerts:read", extra_errors=[400, 422]))
def list_runs(
    db: Database = DatabaseDep,
    filters: RunFilter = RunFilterDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunPage:
    with db.read() as session:
        return runs.list_runs(session, filters=filters, cursor=cursor, limit=limit)


@runs_router.get("/counts", operation_id="playbook-runs-counts",
                 summary="Playbook run counts for dashboards",
                 description="Runs by status (`open` is in progress) and how many have an "
                             "unfinished step past due, under the same filters as the list.",
                 response_model=RunCounts, **secured("alerts:read", extra_errors=[422]))
def count_runs(db: Database = DatabaseDep, filters: RunFilter = RunFilterDep) -> RunCounts:
    with db.read() as session:
        return runs.count_runs(session, filters=filters)


@runs_router.get("/{run_id}", operation_id="playbook-runs-get",
                 summary="One run, its steps and timeline",
                 description="Each step's status, owner, due time, who did what when; the "
                             "timeline alert raised → run started → each step → completed, "
                             "and the durations.",
                 response_model=RunOut, **secured("alerts:read", extra_errors=[404, 422]))
def get_run(run_id: RowId, db: Database = DatabaseDep) -> RunOut:
    with db.read() as session:
        return runs.get_run(session, run_id=run_id)


def _transition(run_id: int, position: int, action: StepAction, request: Request,
                db: Database, reason: str | None = None) -> RunOut:
    with db.transaction() as session:
        return runs.transition(session, run_id=run_id, position=position, action=action,
                               reason=reason, actor=current_principal(request).actor)


@runs_router.post("/{run_id}/steps/{position}/start", operation_id="playbook-runs-start-step",
                  summary="Start a step",
                  description="pending → in_progress; 409 otherwise. Audited.",
                  response_model=RunOut,
                  **secured("alerts:write", extra_errors=[404, 409, 422]))
def start_step(run_id: RowId, position: Position, request: Request,
               db: Database = DatabaseDep) -> RunOut:
    return _transition(run_id, position, StepAction.START, request, db)


@runs_router.post("/{run_id}/steps/{position}/done", operation_id="playbook-runs-finish-step",
                  summary="Mark a step done",
                  description="pending or in_progress → done; 409 when finished already. "
                              "The run completes with its last unfinished step (receivers "
                              "are told). Audited.",
                  response_model=RunOut,
                  **secured("alerts:write", extra_errors=[404, 409, 422]))
def finish_step(run_id: RowId, position: Position, request: Request,
                db: Database = DatabaseDep) -> RunOut:
    return _transition(run_id, position, StepAction.DONE, request, db)


@runs_router.post("/{run_id}/steps/{position}/skip", operation_id="playbook-runs-skip-step",
                  summary="Skip a step, with a reason",
                  description="pending or in_progress → skipped; the reason is required. "
                              "409 when finished already. Audited.",
                  response_model=RunOut,
                  **secured("alerts:write", extra_errors=[404, 409, 422]))
def skip_step(run_id: RowId, position: Position, body: SkipIn,
              request: Request, db: Database = DatabaseDep) -> RunOut:
    return _transition(run_id, position, StepAction.SKIP, request, db, reason=body.reason)


@runs_router.put("/{run_id}/steps/{position}/assignee",
                 operation_id="playbook-runs-reassign-step",
                 summary="Reassign a step (null unassigns)",
                 description="Only an unfinished step: 409 otherwise. Audited.",
                 response_model=RunOut,
                 **secured("alerts:write", extra_errors=[404, 409, 422]))
def reassign_step(run_id: RowId, position: Position, body: ReassignIn,
                  request: Request, db: Database = DatabaseDep) -> RunOut:
    with db.transaction() as session:
        return runs.reassign(session, run_id=run_id, position=position,
                             assignee=body.assignee, actor=current_principal(request).actor)
