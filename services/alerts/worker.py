"""The alerts worker, declared: rule evaluation for new events and score changes (in
batches; playbook runs start there), the notification loops of the receivers part, the drill
runner, and the schedules: maintenance (auto-resolve, repeat notifications, ended silences),
overdue playbook steps, and the nightly sweep of the state rules."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.alerts.alerts.service import maintain
from services.alerts.builtins import ensure_builtins
from services.alerts.drills import runner
from services.alerts.evaluation.service import evaluate_items, sweep
from services.alerts.playbooks.runs import overdue_job
from services.alerts.receivers.loops import notification_loops
from services.alerts.settings import get_alerts_settings
from shared import queue
from shared.db import Database
from shared.topics import ALERTS_DRILL, ALERTS_EVENT, ALERTS_SCORE_CHANGED
from shared.worker import Loop, Schedule, Worker

log = logging.getLogger("riskwatch.alerts.worker")


def evaluate_batch(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
    """One claimed batch of a topic: its customers' risk, features and history are read
    once for every rule."""
    evaluate_items(session, items)


def build_worker(db: Database) -> Worker:
    with db.transaction() as session:
        ensure_builtins(session)
    settings = get_alerts_settings()
    every = settings.maintenance_every_seconds
    return Worker(
        name="alerts", db=db,
        loops=[Loop(name="evaluate", batch_handlers={ALERTS_EVENT: evaluate_batch,
                                                     ALERTS_SCORE_CHANGED: evaluate_batch},
                    batch_size=settings.evaluation_batch_size),
               *notification_loops(),
               # Its own loop: a drill's HTTP call to ingest never delays evaluation.
               Loop(name="drills", handlers={ALERTS_DRILL: runner.run}, batch_size=1)],
        schedules=[Schedule(id="alerts-maintenance", job=maintain,
                            cron={"second": f"*/{every}"}, misfire_grace_seconds=60),
                   Schedule(id="playbook-overdue", job=overdue_job,
                            cron={"second": f"*/{settings.overdue_every_seconds}"},
                            misfire_grace_seconds=60),
                   Schedule(id="alerts-sweep", job=sweep,
                            cron={"hour": settings.sweep_hour_utc, "minute": 0})],
    )
