"""Two scoring worker replicas on one queue: every customer scored, nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from services.scoring.worker import build_worker
from shared import queue
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.models.scoring import CustomerRisk, Score
from shared.topics import SCORING_RESCORE
from tests.scoring.factories import add_customer, add_events, days, event

CUSTOMERS = [f"r-{i:02d}" for i in range(30)]


def _portfolio(db: Database) -> None:
    now = utcnow()
    for i, customer_id in enumerate(CUSTOMERS):
        add_customer(db, customer_id, credit_limit=10000 + 1000 * i)
        add_events(db, event(customer_id, "invoice.issued", now - days(40 + i),
                             invoice_id=f"{customer_id}-1", amount=f"{500 + 100 * i}.00",
                             currency="EUR",
                             due_date=(now - days(10 + i)).date().isoformat()))


def _enqueue_all(db: Database) -> None:
    with db.transaction() as session:
        for customer_id in CUSTOMERS:
            queue.enqueue(session, topic=SCORING_RESCORE, key=customer_id,
                          payload={"trigger": "event"}, coalesce=True)


def _run_two_replicas(db: Database) -> None:
    errors: list[BaseException] = []

    def replica() -> None:
        worker = build_worker(db)
        worker.consumer("rescore").batch_size = 4  # small batches, so the two interleave
        try:
            while worker.run_once():
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_two_replicas_score_every_customer_once(db: Database) -> None:
    _portfolio(db)
    _enqueue_all(db)
    _run_two_replicas(db)
    with db.sessions() as session:
        # All rescore work done (score-changed items for alerts/reviews may remain).
        assert session.scalar(select(func.count()).select_from(WorkItem)
                              .where(WorkItem.topic == SCORING_RESCORE)) == 0
        changed = session.scalar(select(func.count()).select_from(WorkItem))
        risks = session.scalars(select(CustomerRisk.customer_id)).all()
        assert sorted(risks) == CUSTOMERS
        per_customer = session.execute(
            select(Score.customer_id, Score.target, func.count())
            .where(Score.shadow.is_(False))
            .group_by(Score.customer_id, Score.target)).all()
        assert {count for _, _, count in per_customer} == {1}
        history = session.scalar(select(func.count()).select_from(Score))
    # Redelivery of the same work to both replicas changes nothing: same scores, no history.
    _enqueue_all(db)
    _run_two_replicas(db)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == history
        assert session.scalar(select(func.count()).select_from(WorkItem)) == changed


def test_a_backlog_is_scored_in_batches_as_large_as_the_setting(db: Database) -> None:
    # 120 waiting customers: one batch at the default (500); 50 a batch fell behind
    # 500 events/s. The worker claims what is waiting, so a quiet queue gives small batches.
    waiting = [f"b-{i:03d}" for i in range(120)]
    for customer_id in waiting:
        add_customer(db, customer_id)
    with db.transaction() as session:
        for customer_id in waiting:
            queue.enqueue(session, topic=SCORING_RESCORE, key=customer_id,
                          payload={"trigger": "event"}, coalesce=True)
    assert build_worker(db).consumer("rescore").run_once() == len(waiting)
    with db.sessions() as session:
        assert sorted(session.scalars(select(CustomerRisk.customer_id))) == waiting


def test_the_event_batch_size_is_a_scoring_setting(
        db: Database, scoring_setting: Callable[[str, str], None]) -> None:
    scoring_setting("event_batch_size", "7")
    _portfolio(db)
    _enqueue_all(db)
    rescore = build_worker(db).consumer("rescore")
    assert [rescore.run_once() for _ in range(6)] == [7, 7, 7, 7, 2, 0]
