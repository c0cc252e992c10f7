"""The scoring worker: rescoring work from ingest, scoring's own background jobs (training,
rescoring), and the nightly rescore schedule."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from services.scoring.jobs.rescore import run_rescore
from services.scoring.jobs.service import SCORING_JOB, Runner, create_scheduled_job, run_job
from services.scoring.models.file_training import train_from_file
from services.scoring.models.training import train_from_events
from services.scoring.scores.service import rescore_customer, rescore_customers
from shared import queue
from shared.db import Database
from shared.topics import SCORING_RESCORE
from shared.worker import LeaseLost, Worker

log = logging.getLogger("riskwatch.scoring.worker")
RUNNERS: dict[str, Runner] = {"train": train_from_events, "train_file": train_from_file,
                              "rescore": run_rescore}
NIGHTLY_HOUR_UTC = 2


def handle_rescore(session: Session, item: queue.ClaimedItem) -> None:
    trigger = str(item.payload.get("trigger") or "event")[:50]
    rescore_customer(session, customer_id=item.key, trigger=trigger)


def nightly_rescore(db: Database, today: dt.date | None = None) -> int | None:
    """Create tonight's full rescore once, however many replicas run this."""
    today = today or dt.datetime.now(dt.UTC).date()
    job = create_scheduled_job(db, kind="rescore",
                               request={"filter": {}, "trigger": "nightly"},
                               schedule_key=f"nightly-rescore:{today.isoformat()}")
    return None if job is None else job.id


class ScoringWorker(Worker):
    """Rescoring on the main loop; jobs on a second loop (a thread in ``run_forever``) so a
    training run never delays event-driven scores; the nightly schedule beside them."""

    def __init__(self, *, db: Database, jobs: Worker) -> None:
        super().__init__(name="scoring", db=db, handlers={SCORING_RESCORE: handle_rescore})
        self.jobs = jobs
        self.jobs.stopping = self.stopping
        self._jobs_in_thread = False

    def run_once(self) -> int:
        handled = self._rescore_batch()
        if not self._jobs_in_thread:
            handled += self.jobs.run_once()
        return handled

    def _rescore_batch(self) -> int:
        """Claim a batch and score all its customers set-based in one transaction (one
        feature query instead of one per customer). If the batch fails, each item is
        handled alone, so one bad item is retried and dead-lettered by itself."""
        with self.db.transaction() as session:
            items = queue.claim(session, topics=self.topics, worker_id=self.worker_id,
                                limit=self.batch_size)
        if not items:
            return 0
        try:
            with self.db.transaction() as session:
                triggers = {str(i.payload.get("trigger") or "event")[:50] for i in items}
                rescore_customers(session, customer_ids=[i.key for i in items],
                                  trigger=triggers.pop() if len(triggers) == 1 else "event")
                for item in items:
                    if not queue.ack(session, item.id, worker_id=self.worker_id):
                        raise LeaseLost(item.id)
        except Exception as exc:  # noqa: BLE001 - fall back to one by one
            log.warning("batch of %s rescore items failed (%s); handling them one by one",
                        len(items), exc)
            for item in items:
                if self.stopping.is_set():
                    break
                self._process(item)
        return len(items)

    def run_forever(self) -> None:
        import threading

        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(nightly_rescore, "cron", hour=NIGHTLY_HOUR_UTC, args=[self.db],
                          id="nightly-rescore", misfire_grace_time=3600, coalesce=True)
        scheduler.start()
        self._jobs_in_thread = True
        thread = threading.Thread(target=self.jobs.run_forever, name="scoring-jobs",
                                  daemon=True)
        thread.start()
        try:
            super().run_forever()
        finally:
            self.stopping.set()
            scheduler.shutdown(wait=False)
            thread.join(timeout=30)


def build_worker(db: Database) -> Worker:
    def handle_job(session: Session, item: queue.ClaimedItem) -> None:
        # Long work runs in transactions of its own; `session` is only used for the ack,
        # so no lock is held while a model trains.
        run_job(db, int(item.payload["job_id"]), item.id, RUNNERS,
                final_attempt=item.final_attempt)

    jobs = Worker(name="scoring-jobs", db=db, handlers={SCORING_JOB: handle_job},
                  batch_size=1, poll_seconds=1.0)
    return ScoringWorker(db=db, jobs=jobs)
