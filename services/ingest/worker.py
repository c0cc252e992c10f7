"""The ingest worker: applies queued Fxiaoke pushes (the callback answers first, the work
runs here), polls the configured Fxiaoke corps on a schedule, and keeps the event table's
monthly partitions (PostgreSQL) every hour."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from services.ingest.events import partitions
from services.ingest.fxiaoke.poller import poll_all
from services.ingest.settings import get_ingest_settings
from services.ingest.webhooks.service import apply_fxiaoke
from shared import queue
from shared.db import Database
from shared.topics import INGEST_FXIAOKE
from shared.worker import Loop, Schedule, Worker


def _apply_fxiaoke(session: Session, item: queue.ClaimedItem) -> None:
    apply_fxiaoke(session, payload=item.payload)


def maintain_partitions(db: Database) -> partitions.PartitionReport:
    settings = get_ingest_settings()
    return partitions.maintain(db, now=dt.datetime.now(dt.UTC),
                               months_ahead=settings.event_partition_months_ahead,
                               retention_months=settings.event_retention_months)


def build_worker(db: Database) -> Worker:
    settings = get_ingest_settings()
    return Worker(
        name="ingest", db=db, loops=[Loop(handlers={INGEST_FXIAOKE: _apply_fxiaoke})],
        # Every replica runs the poll; a lease row lets one poll each corp at a time.
        schedules=[Schedule("fxiaoke-poll", poll_all,
                            cron={"minute": f"*/{settings.fxiaoke_poll_minutes}"},
                            misfire_grace_seconds=60),
                   # Every replica runs it; an advisory lock makes it one at a time.
                   Schedule("event-partitions", maintain_partitions, cron={"minute": "7"},
                            run_at_start=True)])
