"""Runs: started by the alerts evaluation in the transaction that opens the alert (one per
matching playbook and alert), worked step by step (start, done, skip with a reason,
reassign; each audited), completed when every step is done or skipped; the work list, one
run's timeline, and the worker's overdue scan. Receivers hear of a run's start, its
overdue steps and its completion through ``alerts.notify``, like alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.alerts.alerts import notify
from services.alerts.alerts import repository as alerts_repository
from services.alerts.alerts.service import decode_cursor, encode_cursor
from services.alerts.playbooks import repository
from services.alerts.playbooks.schemas import (
    RunCounts,
    RunFilter,
    RunOut,
    RunPage,
    StepAction,
    StepOut,
    TimelineEntry,
)
from shared import audit, queue
from shared.db import Database
from shared.errors import Conflict, NotFound
from shared.models import utcnow
from shared.models.alerts import Alert
from shared.models.playbooks import PlaybookRun, PlaybookStep, RunStatus, StepStatus
from shared.topics import ALERTS_NOTIFY

WORKER_ACTOR = "alerts worker"
OVERDUE_BATCH = 500
ACCOUNT_OWNER = "account_owner"
FINISHED = (StepStatus.DONE.value, StepStatus.SKIPPED.value)


class RunNotification:
    STARTED = "run_started"
    STEP_OVERDUE = "step_overdue"
    COMPLETED = "run_completed"


# --- starting -----------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenedAlert:
    """What the evaluation knows of an alert it just opened."""

    alert_id: int
    rule_id: int
    severity: str
    tier: str | None
    customer_id: str
    customer_owner: str | None
    event_type: str | None
    drill: bool
    silenced: bool
    opened_at: dt.datetime
    snapshot: dict[str, Any]  # the alert as receivers see it (notify.snapshot)


def matches(trigger: dict[str, Any], alert: OpenedAlert) -> bool:
    """Every non-empty list of the trigger holds the alert's value."""
    checks = (("rule_ids", alert.rule_id), ("severities", alert.severity),
              ("tiers", alert.tier), ("event_types", alert.event_type))
    named = [(trigger.get(name) or [], value) for name, value in checks]
    return any(values for values, _ in named) and all(
        not values or value in values for values, value in named)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace(
        "+00:00", "Z")


def _message(notification: str, alert_snapshot: dict[str, Any], run: PlaybookRun,
             playbook_name: str, step: PlaybookStep | None = None) -> dict[str, Any]:
    playbook: dict[str, Any] = {
        "run_id": run.id, "playbook_id": run.playbook_id, "playbook_name": playbook_name,
        "run_status": run.status, "drill": run.drill,
        "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at)}
    if step is not None:
        playbook["step"] = {"position": step.position, "title": step.title,
                            "owner_role": step.owner_role, "assignee": step.assignee,
                            "status": step.status, "due_at": _iso(step.due_at)}
    return {"notification": notification, "alert": alert_snapshot, "playbook": playbook}


def start_runs(session: Session, opened: Sequence[OpenedAlert], *,
               now: dt.datetime) -> list[int]:
    """Start a run of every enabled playbook whose trigger matches each opened alert, in
    the caller's transaction (the alert's own); returns the new run ids. Receivers are told
    (not for silenced alerts: those are recorded, not notified)."""
    if not opened:
        return []
    playbooks = repository.enabled(session)
    if not playbooks:
        return []
    started: list[int] = []
    messages: list[tuple[str, dict[str, Any]]] = []
    for alert in sorted(opened, key=lambda a: a.alert_id):
        for playbook in playbooks:
            if not matches(playbook.trigger, alert):
                continue
            run_id = repository.insert_run(session, {
                "playbook_id": playbook.id, "alert_id": alert.alert_id,
                "customer_id": alert.customer_id, "drill": alert.drill,
                "status": RunStatus.OPEN.value, "alert_opened_at": alert.opened_at,
                "started_at": now})
            if run_id is None:
                continue  # another worker started it
            repository.add_steps(session, [_step_row(run_id, n, spec, alert, now)
                                           for n, spec in enumerate(playbook.steps, 1)])
            started.append(run_id)
            if not alert.silenced:
                run = repository.get_run(session, run_id)
                assert run is not None
                messages.append((alert.customer_id, _message(
                    RunNotification.STARTED, alert.snapshot, run, playbook.name)))
    if messages:
        queue.enqueue_batch(session, topic=ALERTS_NOTIFY, items=messages, coalesce=False,
                            now=now)
    if started:
        audit.record(session, actor=WORKER_ACTOR, action="playbook_runs.started",
                     subject_type="playbook_run", subject_id=str(min(started)),
                     details={"run_ids": started,
                              "alert_ids": sorted({a.alert_id for a in opened})})
    return started


def _step_row(run_id: int, position: int, spec: dict[str, Any], alert: OpenedAlert,
              now: dt.datetime) -> dict[str, Any]:
    return {"run_id": run_id, "position": position, "title": spec["title"],
            "instructions": spec.get("instructions") or "", "owner_role": spec["owner_role"],
            "assignee": alert.customer_owner if spec["owner_role"] == ACCOUNT_OWNER else None,
            "status": StepStatus.PENDING.value,
            "due_at": now + dt.timedelta(minutes=int(spec["due_within_minutes"]))}


# --- reading ------------------------------------------------------------------------------

def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def step_out(step: PlaybookStep, run: PlaybookRun, now: dt.datetime) -> StepOut:
    unfinished = step.status not in FINISHED
    return StepOut(
        position=step.position, title=step.title, instructions=step.instructions,
        owner_role=step.owner_role, assignee=step.assignee, status=StepStatus(step.status),
        due_at=step.due_at, overdue=unfinished and step.due_at < now,
        overdue_notified_at=step.overdue_at, started_at=step.started_at,
        started_by=step.started_by, finished_at=step.finished_at,
        finished_by=step.finished_by, skip_reason=step.skip_reason,
        seconds_taken=_seconds(step.started_at or run.started_at, step.finished_at))


def timeline(run: PlaybookRun, steps: Sequence[PlaybookStep],
             alert: Alert | None) -> list[TimelineEntry]:
    entries = [TimelineEntry(at=run.alert_opened_at, what="alert_raised"),
               TimelineEntry(at=run.started_at, what="run_started")]
    if alert is not None and alert.acknowledged_at is not None:
        entries.append(TimelineEntry(at=alert.acknowledged_at, what="alert_acknowledged",
                                     actor=alert.acknowledged_by))
    for step in steps:
        if step.started_at is not None:
            entries.append(TimelineEntry(at=step.started_at, what="step_started",
                                         step=step.position, actor=step.started_by))
        if step.overdue_at is not None:
            entries.append(TimelineEntry(at=step.overdue_at, what="step_overdue",
                                         step=step.position))
        if step.finished_at is not None:
            entries.append(TimelineEntry(
                at=step.finished_at, step=step.position, actor=step.finished_by,
                what="step_done" if step.status == StepStatus.DONE else "step_skipped",
                detail=step.skip_reason))
    if run.completed_at is not None:
        entries.append(TimelineEntry(at=run.completed_at, what="run_completed"))
    order = {"alert_raised": 0, "run_started": 1}
    return sorted(entries, key=lambda e: (e.at, order.get(e.what, 2)))


def run_out(run: PlaybookRun, steps: Sequence[PlaybookStep], *, playbook_name: str,
            now: dt.datetime, alert: Alert | None = None,
            with_timeline: bool = False) -> RunOut:
    return RunOut(
        id=run.id, playbook_id=run.playbook_id, playbook_name=playbook_name,
        alert_id=run.alert_id, customer_id=run.customer_id, drill=run.drill,
        status=RunStatus(run.status), alert_opened_at=run.alert_opened_at,
        started_at=run.started_at, completed_at=run.completed_at,
        seconds_to_complete=_seconds(run.started_at, run.completed_at),
        steps=[step_out(s, run, now) for s in steps],
        timeline=timeline(run, steps, alert) if with_timeline else None)


def _run(session: Session, run_id: int, *, lock: bool = False) -> PlaybookRun:
    run = repository.get_run(session, run_id, lock=lock)
    if run is None:
        raise NotFound(f"No playbook run {run_id}.")
    return run


def get_run(session: Session, *, run_id: int) -> RunOut:
    run = _run(session, run_id)
    steps = repository.steps_of(session, [run.id])[run.id]
    names = repository.names(session, [run.playbook_id])
    alert = alerts_repository.get(session, run.alert_id)
    return run_out(run, steps, playbook_name=names.get(run.playbook_id, ""), now=utcnow(),
                   alert=alert, with_timeline=True)


def list_runs(session: Session, *, filters: RunFilter, cursor: str | None,
              limit: int) -> RunPage:
    """Newest first. ``assignee``, ``owner_role`` and ``overdue`` select runs with an
    unfinished step that matches them all (the work list)."""
    now = utcnow()
    where = _run_conditions(filters, now)
    before = None
    if cursor:
        _, before = decode_cursor(cursor)
    rows = repository.run_listing(session, where=where, before_id=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    steps = repository.steps_of(session, [r.id for r in rows])
    names = repository.names(session, {r.playbook_id for r in rows})
    return RunPage(items=[run_out(r, steps[r.id], playbook_name=names.get(r.playbook_id, ""),
                                  now=now) for r in rows],
                   next_cursor=encode_cursor("before", rows[-1].id) if more and rows
                   else None)


def count_runs(session: Session, *, filters: RunFilter) -> RunCounts:
    """The runs the same filters list, by status, and how many of them are overdue."""
    now = utcnow()
    where = _run_conditions(filters, now)
    by_status = dict.fromkeys((s.value for s in RunStatus), 0)
    by_status.update(repository.run_counts_by_status(session, where=where))
    overdue = repository.run_count(session, where=[*where, repository.step_condition(
        assignee=None, owner_role=None, overdue_before=now)])
    return RunCounts(total=sum(by_status.values()), by_status=by_status, overdue=overdue)


def _run_conditions(filters: RunFilter, now: dt.datetime) -> list[Any]:
    where: list[Any] = []
    if filters.playbook_id is not None:
        where.append(PlaybookRun.playbook_id == filters.playbook_id)
    if filters.status is not None:
        where.append(PlaybookRun.status == filters.status.value)
    if filters.customer_id is not None:
        where.append(PlaybookRun.customer_id == filters.customer_id)
    if filters.drill is not None:
        where.append(PlaybookRun.drill.is_(filters.drill))
    if filters.assignee is not None or filters.owner_role is not None or filters.overdue:
        where.append(repository.step_condition(
            assignee=filters.assignee, owner_role=filters.owner_role,
            overdue_before=now if filters.overdue else None))
    if filters.overdue is False:
        where.append(~repository.step_condition(assignee=None, owner_role=None,
                                                overdue_before=now))
    return where


# --- working a run --------------------------------------------------------------------------

def _alert_message(session: Session, notification: str, run: PlaybookRun,
                   step: PlaybookStep | None = None) -> tuple[str, dict[str, Any]] | None:
    """The notification for a run's alert, or None when the alert is silenced (or gone)."""
    alert = alerts_repository.get(session, run.alert_id)
    if alert is None or alert.silenced:
        return None
    rules, customers = alerts_repository.names(session, [alert.rule_id], [alert.customer_id])
    snapshot = notify.snapshot(alert, rule_name=rules.get(alert.rule_id, ""),
                               customer_name=customers.get(alert.customer_id))
    names = repository.names(session, [run.playbook_id])
    return run.customer_id, _message(notification, snapshot, run,
                                     names.get(run.playbook_id, ""), step)


def _audit(session: Session, run: PlaybookRun, step: PlaybookStep, *, actor: str,
           action: str, **details: Any) -> None:
    audit.record(session, actor=actor, action=f"playbook_step.{action}",
                 subject_type="playbook_run", subject_id=str(run.id),
                 details={"position": step.position, "title": step.title,
                          "status": step.status, "alert_id": run.alert_id,
                          "customer_id": run.customer_id, **details})


def _step(session: Session, run: PlaybookRun, position: int) -> PlaybookStep:
    for step in repository.steps_of(session, [run.id])[run.id]:
        if step.position == position:
            return step
    raise NotFound(f"Playbook run {run.id} has no step {position}.")


def transition(session: Session, *, run_id: int, position: int, action: StepAction,
               actor: str, reason: str | None = None) -> RunOut:
    """start: pending → in_progress; done: pending or in progress → done; skip (a reason
    is required): pending or in progress → skipped. 409 from a finished step. The run
    completes with its last unfinished step, and receivers are told."""
    run = _run(session, run_id, lock=True)  # one transition of a run at a time
    step = _step(session, run, position)
    now = utcnow()
    if step.status in FINISHED:
        raise Conflict(f"Step {position} of run {run_id} is {step.status} already.")
    if action is StepAction.START:
        if step.status != StepStatus.PENDING:
            raise Conflict(f"Step {position} of run {run_id} is started already.")
        step.status, step.started_at, step.started_by = (StepStatus.IN_PROGRESS.value, now,
                                                         actor)
        _audit(session, run, step, actor=actor, action="started")
    else:
        step.status = (StepStatus.DONE if action is StepAction.DONE
                       else StepStatus.SKIPPED).value
        step.finished_at, step.finished_by = now, actor
        if action is StepAction.SKIP:
            step.skip_reason = reason
        _audit(session, run, step, actor=actor,
               action="done" if action is StepAction.DONE else "skipped",
               **({"reason": reason} if action is StepAction.SKIP else {}))
    session.flush()
    steps = repository.steps_of(session, [run.id])[run.id]
    if run.status == RunStatus.OPEN and all(s.status in FINISHED for s in steps):
        run.status, run.completed_at = RunStatus.COMPLETED.value, now
        session.flush()
        audit.record(session, actor=actor, action="playbook_run.completed",
                     subject_type="playbook_run", subject_id=str(run.id),
                     details={"alert_id": run.alert_id, "customer_id": run.customer_id,
                              "seconds": _seconds(run.started_at, now),
                              "skipped": [s.position for s in steps
                                          if s.status == StepStatus.SKIPPED]})
        found = _alert_message(session, RunNotification.COMPLETED, run)
        if found is not None:
            queue.enqueue(session, topic=ALERTS_NOTIFY, key=found[0], payload=found[1])
    names = repository.names(session, [run.playbook_id])
    return run_out(run, steps, playbook_name=names.get(run.playbook_id, ""), now=now)


def reassign(session: Session, *, run_id: int, position: int, assignee: str | None,
             actor: str) -> RunOut:
    run = _run(session, run_id, lock=True)
    step = _step(session, run, position)
    if step.status in FINISHED:
        raise Conflict(f"Step {position} of run {run_id} is {step.status}; only an "
                       "unfinished step is reassigned.")
    previous = step.assignee
    step.assignee = assignee
    _audit(session, run, step, actor=actor, action="reassigned", assignee=assignee,
           previous_assignee=previous)
    session.flush()
    steps = repository.steps_of(session, [run.id])[run.id]
    names = repository.names(session, [run.playbook_id])
    return run_out(run, steps, playbook_name=names.get(run.playbook_id, ""), now=utcnow())


# --- the worker's schedule ----------------------------------------------------------------

def mark_overdue(session: Session, *, now: dt.datetime | None = None) -> int:
    """Mark unfinished steps past due and tell the receivers, once per step (the mark is
    written with the notification; replicas skip the rows another one holds)."""
    now = now or utcnow()
    due = repository.due_overdue(session, now, OVERDUE_BATCH)
    if not due:
        return 0
    runs = repository.runs_by_id(session, {s.run_id for s in due})
    messages: list[tuple[str, dict[str, Any]]] = []
    for step in due:
        step.overdue_at = now
        found = _alert_message(session, RunNotification.STEP_OVERDUE, runs[step.run_id], step)
        if found is not None:
            messages.append(found)
    session.flush()
    if messages:
        queue.enqueue_batch(session, topic=ALERTS_NOTIFY, items=messages, coalesce=False,
                            now=now)
    audit.record(session, actor=WORKER_ACTOR, action="playbook_steps.overdue",
                 subject_type="playbook_run", subject_id=str(min(runs)),
                 details={"steps": [[s.run_id, s.position] for s in due]})
    return len(due)


def overdue_job(db: Database) -> int:
    with db.transaction() as session:
        return mark_overdue(session)

