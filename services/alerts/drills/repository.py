"""All SQL for drills: the drill and its synthetic customer, and what ingest, the alerts
evaluation and the playbook run wrote about that customer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.models import Customer, Event
from shared.models.alerts import Alert
from shared.models.playbooks import Drill, PlaybookRun


def add(session: Session, drill: Drill, customer: Customer) -> None:
    session.add(customer)
    session.flush()  # the customer first: ingest's events refer to it
    session.add(drill)
    session.flush()


def get(session: Session, drill_id: int, *, lock: bool = False) -> Drill | None:
    if lock:
        return session.scalar(select(Drill).where(Drill.id == drill_id).with_for_update())
    return session.get(Drill, drill_id)


def listing(session: Session, *, playbook_id: int | None, before: int | None,
            limit: int) -> list[Drill]:
    query = select(Drill)
    if playbook_id is not None:
        query = query.where(Drill.playbook_id == playbook_id)
    if before is not None:
        query = query.where(Drill.id < before)
    return list(session.scalars(query.order_by(Drill.id.desc()).limit(limit)))


def first_event_received(session: Session, customer_id: str) -> dt.datetime | None:
    value: dt.datetime | None = session.scalar(
        select(func.min(Event.received_at)).where(Event.customer_id == customer_id))
    return value


def run_of(session: Session, *, playbook_id: int, customer_id: str) -> PlaybookRun | None:
    return session.scalar(select(PlaybookRun).where(
        PlaybookRun.playbook_id == playbook_id, PlaybookRun.customer_id == customer_id)
        .order_by(PlaybookRun.id).limit(1))


def first_alert(session: Session, customer_id: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.customer_id == customer_id)
                          .order_by(Alert.id).limit(1))


def alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def customer_values(customer_id: str, playbook_name: str, now: dt.datetime
                    ) -> dict[str, Any]:
    return {"customer_id": customer_id, "name": f"Drill: {playbook_name}"[:300],
            "owner": "drill", "is_drill": True, "incomplete": False,
            "attributes": {"drill": True}, "created_at": now, "updated_at": now}
