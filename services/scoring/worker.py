"""The scoring worker, declared: rescoring work from ingest (in batches), the reasons a
promotion's rescore left to explain, scoring's own background jobs (training, rescoring) on
a loop of their own, and the nightly rescore."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from services.scoring.jobs.rescore import run_rescore
from services.scoring.jobs.service import Progress, Runner, create_scheduled_job, run_job
from services.scoring.scores.explain import explain_batch
from services.scoring.scores.service import rescore_customers
from services.scoring.settings import get_scoring_settings
from shared import queue
from shared.db import Database
from shared.models.scoring import ScoringJob
from shared.topics import SCORING_EXPLAIN, SCORING_JOB, SCORING_RESCORE
from shared.worker import Loop, Schedule, Worker


def _imported_on_first_job(module: str, function: str) -> Runner:
    """A runner whose module is imported when its first job runs: training imports
    LightGBM, and LightGBM scikit-learn, 1.5 s of a worker's start (python -X importtime)
    that a worker scoring events never needs."""
    def run(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
        runner: Runner = getattr(importlib.import_module(module), function)
        return runner(db, job, progress)

    return run


RUNNERS: dict[str, Runner] = {
    "train": _imported_on_first_job("services.scoring.models.training", "train_from_events"),
    "train_file": _imported_on_first_job("services.scoring.models.file_training",
                                         "train_from_file"),
    "rescore": run_rescore,
}


# Explanations per claimed batch: large enough that the batch's fixed cost (claim, locks,
# reads, the notices' statements) stays small beside pred_contrib (500 and 2,000 took 22.8
# and 21.8 s for 19,000 in bench.scoring b), small enough to finish well inside the queue's
# lease (RISKWATCH_QUEUE_LEASE_SECONDS, 30 s) on a busy machine: about a second's work.
EXPLAIN_BATCH = 1000


def rescore_batch(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
    """Score all the batch's customers set-based (one feature query instead of one per
    customer)."""
    triggers = {str(item.payload.get("trigger") or "event")[:50] for item in items}
    rescore_customers(session, customer_ids=[item.key for item in items],
                      trigger=triggers.pop() if len(triggers) == 1 else "event")


def nightly_rescore(db: Database, today: dt.date | None = None) -> int | None:
    """Create tonight's full rescore once, however many replicas run this."""
    today = today or dt.datetime.now(dt.UTC).date()
    job = create_scheduled_job(db, kind="rescore",
                               request={"filter": {}, "trigger": "nightly"},
                               schedule_key=f"nightly-rescore:{today.isoformat()}")
    return None if job is None else job.id


def build_worker(db: Database) -> Worker:
    def handle_job(session: Session, item: queue.ClaimedItem) -> None:
        # Long work runs in transactions of its own; `session` is only used for the ack,
        # so no lock is held while a model trains.
        run_job(db, int(item.payload["job_id"]), item.id, RUNNERS,
                final_attempt=item.final_attempt)

    return Worker(
        name="scoring", db=db,
        loops=[
            # Batches as large as the backlog, up to event_batch_size: at 50 customers a
            # batch the worker fell behind at 500 events/s on 2 cores, its queue growing
            # to 11,000; at 500 it kept up (bench/README.md, "End-to-end capacity").
            Loop(name="rescore", batch_handlers={SCORING_RESCORE: rescore_batch},
                 batch_size=get_scoring_settings().event_batch_size),
            # Reasons after a promotion's rescore: a loop of its own, so the explanations of
            # 20,000 moved scores never delay the scoring of new events; polled once a second
            # when idle, as it only ever follows a rescoring job.
            Loop(name="explain", batch_handlers={SCORING_EXPLAIN: explain_batch},
                 batch_size=EXPLAIN_BATCH, poll_seconds=1.0),
            # A loop of its own, so a training run never delays event-driven scores.
            Loop(name="jobs", handlers={SCORING_JOB: handle_job}, batch_size=1,
                 poll_seconds=1.0),
        ],
        schedules=[Schedule(id="nightly-rescore", job=nightly_rescore,
                            cron={"hour": get_scoring_settings().nightly_rescore_hour_utc})],
    )
