"""Drills: rehearse a playbook on a synthetic customer marked as a drill. Creating one
stores the drill, its customer and a work item for the runner in one transaction; the
runner (``runner.py``, in the alerts worker) sends the scenario's events to ingest's public
API, and from there they travel the real path: ingest stores and enqueues them, scoring
rescores, the alerts worker opens the alert and starts the run. The report is read from
what those wrote: event stored → alert raised → acknowledged → run completed."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from services.alerts.drills import repository
from services.alerts.drills.schemas import DrillIn, DrillOut, DrillPage, DrillStatus
from services.alerts.playbooks import repository as playbooks_repository
from services.alerts.playbooks.schemas import DrillEvent
from shared import audit, queue
from shared.errors import Conflict, NotFound, ValidationFailed, field_error
from shared.models import Customer, utcnow
from shared.models.playbooks import Drill, RunStatus
from shared.topics import ALERTS_DRILL


def create(session: Session, *, body: DrillIn, actor: str) -> DrillOut:
    playbook = playbooks_repository.get(session, body.playbook_id)
    if playbook is None:
        raise NotFound(f"No playbook {body.playbook_id}.",
                       errors=[field_error("playbook_id", "no such playbook")])
    if not playbook.enabled:
        raise Conflict(f"Playbook {playbook.id} is disabled: a drill would start no run. "
                       "Enable it first.")
    events = ([e.model_dump(mode="json") for e in body.events] if body.events
              else list(playbook.drill_events or []))
    if not events:
        raise ValidationFailed(
            f"Playbook {playbook.id} has no drill scenario; send `events`.",
            errors=[field_error("events", "required: the playbook has no drill_events")])
    now = utcnow()
    customer_id = f"drill-{uuid.uuid4().hex[:16]}"
    drill = Drill(playbook_id=playbook.id, customer_id=customer_id, events=events,
                  created_by=actor, created_at=now)
    repository.add(session, drill, Customer(**repository.customer_values(
        customer_id, playbook.name, now)))
    queue.enqueue(session, topic=ALERTS_DRILL, key=customer_id,
                  payload={"drill_id": drill.id})
    audit.record(session, actor=actor, action="drill.created", subject_type="drill",
                 subject_id=str(drill.id), details={"playbook_id": playbook.id,
                                                    "customer_id": customer_id,
                                                    "events": len(events)})
    return report(session, drill)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def report(session: Session, drill: Drill) -> DrillOut:
    names = playbooks_repository.names(session, [drill.playbook_id])
    received = repository.first_event_received(session, drill.customer_id)
    run = repository.run_of(session, playbook_id=drill.playbook_id,
                            customer_id=drill.customer_id)
    alert = (repository.alert(session, run.alert_id) if run is not None
             else repository.first_alert(session, drill.customer_id))
    opened = alert.opened_at if alert is not None else None
    if drill.send_error is not None and drill.sent_at is None:
        status = DrillStatus.SEND_FAILED
    elif drill.sent_at is None and received is None:
        status = DrillStatus.SENDING
    elif run is None:
        status = DrillStatus.WAITING_FOR_ALERT
    elif run.status == RunStatus.COMPLETED:
        status = DrillStatus.COMPLETED
    else:
        status = DrillStatus.RUNNING
    completed = run.completed_at if run is not None else None
    return DrillOut(
        id=drill.id, playbook_id=drill.playbook_id,
        playbook_name=names.get(drill.playbook_id, ""), customer_id=drill.customer_id,
        status=status, events=[DrillEvent.model_validate(e) for e in drill.events],
        created_by=drill.created_by, created_at=drill.created_at, sent_at=drill.sent_at,
        send_error=drill.send_error, event_received_at=received,
        alert_id=alert.id if alert is not None else None, alert_opened_at=opened,
        alert_acknowledged_at=alert.acknowledged_at if alert is not None else None,
        run_id=run.id if run is not None else None, run_completed_at=completed,
        seconds_to_detect=_seconds(received, opened),
        seconds_to_acknowledge=_seconds(opened, alert.acknowledged_at if alert else None),
        seconds_to_complete=_seconds(opened, completed))


def get(session: Session, *, drill_id: int) -> DrillOut:
    drill = repository.get(session, drill_id)
    if drill is None:
        raise NotFound(f"No drill {drill_id}.")
    return report(session, drill)


def page(session: Session, *, playbook_id: int | None, before: int | None,
         limit: int) -> DrillPage:
    rows = repository.listing(session, playbook_id=playbook_id, before=before,
                              limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DrillPage(items=[report(session, d) for d in rows],
                     next_cursor=rows[-1].id if more and rows else None)
