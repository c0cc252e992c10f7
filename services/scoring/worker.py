"""The scoring worker: rescoring work from ingest, and scoring's own background jobs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.scoring.scores.service import rescore_customer
from shared import queue
from shared.db import Database
from shared.topics import SCORING_RESCORE
from shared.worker import Worker


def handle_rescore(session: Session, item: queue.ClaimedItem) -> None:
    trigger = str(item.payload.get("trigger") or "event")[:50]
    rescore_customer(session, customer_id=item.key, trigger=trigger)


def build_worker(db: Database) -> Worker:
    return Worker(name="scoring", db=db, handlers={SCORING_RESCORE: handle_rescore})
