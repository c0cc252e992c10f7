"""All SQL for playbooks, their runs and steps: the plans, the run started once per
(playbook, alert), the work list, the overdue scan and the completed runs' durations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from shared.db import among, dialect_insert, is_postgres
from shared.models.alerts import Alert
from shared.models.playbooks import Playbook, PlaybookRun, PlaybookStep, StepStatus

UNFINISHED = (StepStatus.PENDING.value, StepStatus.IN_PROGRESS.value)


def get(session: Session, playbook_id: int) -> Playbook | None:
    return session.get(Playbook, playbook_id)


def by_name(session: Session, name: str) -> Playbook | None:
    return session.scalar(select(Playbook).where(Playbook.name == name))


def listing(session: Session, *, enabled: bool | None) -> list[Playbook]:
    query = select(Playbook)
    if enabled is not None:
        query = query.where(Playbook.enabled.is_(enabled))
    return list(session.scalars(query.order_by(Playbook.id)))


def enabled(session: Session) -> list[Playbook]:
    return listing(session, enabled=True)


def names(session: Session, playbook_ids: Collection[int]) -> dict[int, str]:
    if not playbook_ids:
        return {}
    return dict(session.execute(select(Playbook.id, Playbook.name).where(
        Playbook.id.in_(list(playbook_ids)))).all())


def insert_builtin(session: Session, row: dict[str, Any]) -> int | None:
    """Insert a built-in playbook unless its key (or name) is there; the new id, or None."""
    stmt = (dialect_insert(session)(Playbook).values(**row).on_conflict_do_nothing()
            .returning(Playbook.id))
    return session.execute(stmt).scalar_one_or_none()


def insert_run(session: Session, row: dict[str, Any]) -> int | None:
    """The run of (playbook, alert), unless one exists: the unique pair decides, so two
    workers that both see the alert open start one run. The new id, or None."""
    stmt = (dialect_insert(session)(PlaybookRun).values(**row)
            .on_conflict_do_nothing(index_elements=[PlaybookRun.playbook_id,
                                                    PlaybookRun.alert_id])
            .returning(PlaybookRun.id))
    return session.execute(stmt).scalar_one_or_none()


def add_steps(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.add_all([PlaybookStep(**row) for row in rows])
        session.flush()


def get_run(session: Session, run_id: int, *, lock: bool = False) -> PlaybookRun | None:
    if lock:
        return session.scalar(select(PlaybookRun).where(PlaybookRun.id == run_id)
                              .with_for_update())
    return session.get(PlaybookRun, run_id)


def steps_of(session: Session, run_ids: Collection[int]) -> dict[int, list[PlaybookStep]]:
    found: dict[int, list[PlaybookStep]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return found
    for step in session.scalars(select(PlaybookStep).where(
            among(session, PlaybookStep.run_id, run_ids))
            .order_by(PlaybookStep.run_id, PlaybookStep.position)):
        found[step.run_id].append(step)
    return found


def alerts(session: Session, alert_ids: Collection[int]) -> dict[int, Alert]:
    if not alert_ids:
        return {}
    return {a.id: a for a in session.scalars(select(Alert).where(
        among(session, Alert.id, alert_ids)))}


def step_condition(*, assignee: str | None, owner_role: str | None, overdue_before:
                   dt.datetime | None) -> Any:
    """EXISTS an unfinished step of the run with this assignee / role / past due."""
    where: list[Any] = [PlaybookStep.run_id == PlaybookRun.id,
                        PlaybookStep.status.in_(UNFINISHED)]
    if assignee is not None:
        where.append(PlaybookStep.assignee == assignee)
    if owner_role is not None:
        where.append(PlaybookStep.owner_role == owner_role)
    if overdue_before is not None:
        where.append(PlaybookStep.due_at < overdue_before)
    return exists().where(*where)


def run_listing(session: Session, *, where: list[Any], before_id: int | None,
                limit: int) -> list[PlaybookRun]:
    query = select(PlaybookRun).where(*where)
    if before_id is not None:
        query = query.where(PlaybookRun.id < before_id)
    return list(session.scalars(query.order_by(PlaybookRun.id.desc()).limit(limit)))


def run_counts_by_status(session: Session, *, where: list[Any]) -> dict[str, int]:
    return {status: int(n) for status, n in session.execute(
        select(PlaybookRun.status, func.count()).where(*where).group_by(PlaybookRun.status))}


def run_count(session: Session, *, where: list[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(PlaybookRun).where(*where))
               or 0)


def due_overdue(session: Session, now: dt.datetime, limit: int) -> list[PlaybookStep]:
    """Unfinished steps past due that nobody was told about yet, locked (skipping those
    another replica holds), oldest due first."""
    query: Select[PlaybookStep] = (
        select(PlaybookStep).where(PlaybookStep.status.in_(UNFINISHED),
                                   PlaybookStep.overdue_at.is_(None),
                                   PlaybookStep.due_at <= now)
        .order_by(PlaybookStep.due_at, PlaybookStep.id).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def runs_by_id(session: Session, run_ids: Collection[int]) -> dict[int, PlaybookRun]:
    if not run_ids:
        return {}
    return {r.id: r for r in session.scalars(select(PlaybookRun).where(
        among(session, PlaybookRun.id, run_ids)))}


def run_times(session: Session, playbook_id: int) -> list[tuple[bool, dt.datetime,
                                                                dt.datetime | None]]:
    """(drill, started, completed) of every run of the playbook."""
    return [(bool(r.drill), r.started_at, r.completed_at) for r in session.execute(
        select(PlaybookRun.drill, PlaybookRun.started_at, PlaybookRun.completed_at)
        .where(PlaybookRun.playbook_id == playbook_id))]
