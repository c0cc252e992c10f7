"""The reviews worker, declared: scoring's score-changed notices (in batches) open triggered
reviews and write the risk file; schedules open the reviews that fall due and mark overdue
ones. Every replica runs the schedules; the unique keys make a repeat harmless."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.reviews.reviews import scheduling
from services.reviews.settings import get_reviews_settings
from shared import queue
from shared.db import Database
from shared.topics import REVIEWS_SCORE_CHANGED
from shared.worker import Loop, Schedule, Worker


def score_changed_batch(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
    scheduling.on_score_changed(session, [{**item.payload, "customer_id": item.key}
                                          for item in items])


def due_review_pass(db: Database) -> scheduling.DuePass:
    with db.transaction() as session:
        return scheduling.open_due_reviews(session)


def overdue_pass(db: Database) -> int:
    with db.transaction() as session:
        return scheduling.mark_overdue(session)


def build_worker(db: Database) -> Worker:
    settings = get_reviews_settings()
    return Worker(
        name="reviews", db=db,
        # Large batches: a burst of tier changes (a new tier configuration, a nightly
        # rescore) is handled set-based, one snapshot and one review insert per batch.
        loops=[Loop(name="score-changed", batch_size=settings.score_changed_batch_size,
                    batch_handlers={REVIEWS_SCORE_CHANGED: score_changed_batch})],
        schedules=[
            Schedule(id="reviews-due", job=due_review_pass,
                     cron={"hour": settings.due_pass_hour_utc, "minute": 0}),
            Schedule(id="reviews-overdue", job=overdue_pass,
                     cron={"minute": f"*/{settings.overdue_pass_minutes}"}),
        ],
    )
