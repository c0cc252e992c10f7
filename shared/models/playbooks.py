"""Tables owned by the alerts service's playbooks: the plans (trigger and ordered steps), the
runs an alert starts (one per playbook and alert), each run's steps as work people do, and
the drills that rehearse a playbook on a synthetic customer."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.platform import BigId


class RunStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class StepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"


class Playbook(Base):
    """What to do when an alert matching ``trigger`` opens: ``steps`` in order."""

    __tablename__ = "playbook"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # {"rule_ids": [...], "severities": [...], "tiers": [...], "event_types": [...]}: every
    # non-empty list must match the alert (any of its values); at least one is non-empty.
    trigger: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    # [{"title", "instructions", "owner_role", "due_within_minutes"}], in order.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    # The CloudEvents (type and data) a drill sends for the synthetic customer.
    drill_events: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set on the playbooks a fresh install ships with, so seeding them again changes nothing.
    builtin_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PlaybookRun(Base):
    """One playbook worked through for one alert."""

    __tablename__ = "playbook_run"
    __table_args__ = (
        # However many alerts workers see the alert open, it starts one run per playbook.
        UniqueConstraint("playbook_id", "alert_id"),
        Index(None, "status", "id"),
        Index(None, "playbook_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    playbook_id: Mapped[int] = mapped_column(BigId, ForeignKey("playbook.id"))
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alert.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    alert_opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class PlaybookStep(Base):
    """One step of a run: who owns it, by when, and what happened to it."""

    __tablename__ = "playbook_step"
    __table_args__ = (
        UniqueConstraint("run_id", "position"),
        Index(None, "status", "due_at"),
        Index(None, "assignee", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("playbook_run.id",
                                                          ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    started_by: Mapped[str | None] = mapped_column(String(200))
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_by: Mapped[str | None] = mapped_column(String(200))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    # When the worker found it overdue and told the receivers (once per step).
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Drill(Base):
    """A rehearsal of a playbook: a synthetic customer whose scenario events go through
    ingest, scoring and alerts like any other; its timings are read from what they wrote."""

    __tablename__ = "drill"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    playbook_id: Mapped[int] = mapped_column(BigId, ForeignKey("playbook.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(128), unique=True)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    # When ingest accepted the scenario's events (None until the runner sent them).
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    send_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
