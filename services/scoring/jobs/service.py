"""Background jobs (training, training from a file, rescoring): a job row for progress and a
work item on scoring's own topic, so a crashed worker's job is picked up again."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.scoring.jobs import repository
from services.scoring.jobs.schemas import FINISHED, JobStatus
from shared import queue
from shared.db import Database
from shared.errors import NotFound
from shared.models import utcnow
from shared.models.scoring import ScoringJob
from shared.settings import get_settings
from shared.topics import SCORING_JOB

log = logging.getLogger("riskwatch.scoring.jobs")


class JobInputError(Exception):
    """The job cannot succeed as asked (e.g. no data in the period): fail it, do not retry."""


def create_job(session: Session, *, kind: str, request: dict[str, Any], actor: str,
               input_text: str | None = None, schedule_key: str | None = None) -> ScoringJob:
    job = ScoringJob(kind=kind, status=JobStatus.QUEUED, stage="queued", progress=0.0,
                     request=request, input_text=input_text, created_by=actor,
                     schedule_key=schedule_key, created_at=utcnow())
    session.add(job)
    session.flush()
    queue.enqueue(session, topic=SCORING_JOB, key=str(job.id), payload={"job_id": job.id})
    return job


def create_scheduled_job(db: Database, *, kind: str, request: dict[str, Any],
                         schedule_key: str) -> ScoringJob | None:
    """Create the job for a schedule slot unless another replica already did (unique key)."""
    try:
        with db.transaction() as session:
            return create_job(session, kind=kind, request=request, actor="scheduler",
                              schedule_key=schedule_key)
    except IntegrityError:
        return None


def get_job(session: Session, job_id: int) -> ScoringJob:
    job = repository.get(session, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


class Progress:
    """Reports a running job's stage and progress in short transactions of its own (so
    they are visible at once), and keeps its work item leased meanwhile."""

    def __init__(self, db: Database, job_id: int, item_id: int | None) -> None:
        self.db = db
        self.job_id = job_id
        self.item_id = item_id
        self._last = 0.0

    def __call__(self, stage: str, progress: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        with self.db.transaction() as session:
            repository.update_job(session, self.job_id, stage=stage[:200],
                                  progress=round(min(max(progress, 0.0), 1.0), 4))
            if self.item_id is not None:
                repository.extend_lease(session, self.item_id,
                                        get_settings().queue_lease_seconds)


Runner = Callable[[Database, ScoringJob, Progress], dict[str, Any]]


def run_job(db: Database, job_id: int, item_id: int | None, runners: dict[str, Runner], *,
            final_attempt: bool = False) -> None:
    """Run one job to its end. Input errors fail the job; other errors are re-raised so the
    queue retries it with backoff, and on the queue's last attempt the job is marked failed
    (its work item goes to the dead letters)."""
    with db.transaction() as session:
        job = repository.get(session, job_id)
        if job is None or job.status in FINISHED:
            return  # already done (a redelivered item)
        repository.update_job(session, job_id, status=JobStatus.RUNNING, stage="starting",
                              started_at=utcnow(), error=None)
    progress = Progress(db, job_id, item_id)
    try:
        result = runners[job.kind](db, job, progress)
    except JobInputError as exc:
        with db.transaction() as session:
            repository.update_job(session, job_id, status=JobStatus.FAILED, stage="failed",
                                  error=str(exc), finished_at=utcnow())
        return
    except Exception as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        with db.transaction() as session:
            if final_attempt:
                repository.update_job(session, job_id, status=JobStatus.FAILED,
                                      stage="failed after its last attempt",
                                      error=error[:4000], finished_at=utcnow())
            else:
                repository.update_job(session, job_id, status=JobStatus.RETRYING,
                                      stage="will retry", error=error[:4000])
        raise
    with db.transaction() as session:
        repository.update_job(session, job_id, status=JobStatus.SUCCEEDED, stage="done",
                              progress=1.0, result=result, model_id=result.get("model_id"),
                              finished_at=utcnow())
