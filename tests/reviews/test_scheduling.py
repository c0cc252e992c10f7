"""Reviews the system opens: periodic ones when the tier's cadence runs out, triggered ones
when a tier worsens, overdue marking; each exactly once however many replicas run."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from services.reviews.reviews import scheduling
from services.reviews.worker import build_worker, due_review_pass, overdue_pass
from shared import queue
from shared.db import Database
from shared.models import AuditEntry, WorkItem, utcnow
from shared.models.reviews import ProfileSnapshot, Review, ReviewPolicy
from shared.topics import REVIEWS_SCORE_CHANGED, SCORING_RESCORE
from tests.reviews.factories import customer, notice, risk
from tests.scoring.conftest import drain as drain_scoring
from tests.scoring.factories import add_events, days, event


def _reviews(db: Database, **where: str) -> list[Review]:
    with db.sessions() as session:
        query = select(Review).filter_by(**where).order_by(Review.customer_id, Review.id)
        return list(session.scalars(query))


def _opened_in_audit(db: Database) -> list[tuple[str, str, str, str]]:
    """(actor, review id, customer, kind) of every review.opened entry."""
    with db.sessions() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.subject_id,
                                      AuditEntry.details)
                               .where(AuditEntry.action == "review.opened")
                               .order_by(AuditEntry.id)).all()
    return [(actor, subject, details["customer_id"], details["kind"])
            for actor, subject, details in rows]


def _drain(db: Database) -> int:
    worker = build_worker(db)
    handled = 0
    while (n := worker.run_once()):
        handled += n
    return handled


def test_a_customer_whose_tier_cadence_has_run_out_gets_one_periodic_review(
        db: Database) -> None:
    customer(db, "high-40", days_ago=40)
    risk(db, "high-40", "high")
    customer(db, "low-40", days_ago=40)
    risk(db, "low-40", "low")
    customer(db, "medium-100", days_ago=100)
    risk(db, "medium-100", "medium")
    customer(db, "unscored-400", days_ago=400)
    result = due_review_pass(db)
    assert (result.candidates, result.opened) == (3, 3)
    opened = {r.customer_id: r for r in _reviews(db)}
    assert sorted(opened) == ["high-40", "medium-100", "unscored-400"]
    high = opened["high-40"]
    assert high.kind == "periodic" and high.tier == "high"
    assert high.due_on == (utcnow() - dt.timedelta(days=10)).date()
    assert high.deadline_on == high.due_on + dt.timedelta(days=14)
    assert due_review_pass(db).opened == 0  # the next night: nothing twice
    # Each review the scheduler opened is in the audit log, once, as a person's would be.
    assert sorted(_opened_in_audit(db)) == sorted(
        ("riskwatch scheduler", str(r.id), r.customer_id, "periodic") for r in opened.values())


def test_an_analysts_tier_override_sets_the_cadence(db: Database) -> None:
    from shared.models.scoring import TierOverride

    customer(db, "c-1", days_ago=40)
    risk(db, "c-1", "low")
    with db.transaction() as session:
        session.add(TierOverride(customer_id="c-1", tier="high", reason="watch list",
                                 expires_at=utcnow() + dt.timedelta(days=30),
                                 created_by="tests"))
    due_review_pass(db)
    assert [(r.customer_id, r.tier) for r in _reviews(db)] == [("c-1", "high")]


def test_a_completed_review_restarts_the_cadence(db: Database) -> None:
    customer(db, "c-1", days_ago=400)
    risk(db, "c-1", "medium")
    due_review_pass(db)
    with db.transaction() as session:
        review = session.scalars(select(Review)).one()
        review.status, review.completed_at = "completed", utcnow() - dt.timedelta(days=89)
    assert due_review_pass(db).opened == 0
    with db.transaction() as session:
        session.scalars(select(Review)).one().completed_at = utcnow() - dt.timedelta(days=91)
    assert due_review_pass(db).opened == 1


def test_the_policy_in_force_sets_cadence_and_deadline(db: Database) -> None:
    with db.transaction() as session:
        session.add(ReviewPolicy(version=1, cadence_days={"low": 20, "medium": 15, "high": 10},
                                 sla_days=3, open_on_worsened_tier=True, created_by="tests"))
    customer(db, "c-1", days_ago=25)
    risk(db, "c-1", "low")
    due_review_pass(db)
    (review,) = _reviews(db)
    assert review.policy_version == 1
    assert review.deadline_on - review.due_on == dt.timedelta(days=3)


def test_two_schedulers_on_one_database_open_each_due_review_exactly_once(
        db: Database, database_url: str) -> None:
    ids = [f"due-{i:03d}" for i in range(60)]
    for i, customer_id in enumerate(ids):
        customer(db, customer_id, days_ago=40 + i)
        risk(db, customer_id, "high")
    # Two replicas: each its own engine and pool and its own APScheduler, firing the real
    # due-review job every second, so their passes overlap.
    replicas = [Database(database_url) for _ in range(2)]
    schedulers = []
    errors: list[BaseException] = []

    def job(replica: Database) -> None:
        try:
            due_review_pass(replica)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    try:
        for replica in replicas:
            scheduler = BackgroundScheduler(timezone="UTC")
            scheduler.add_job(job, "cron", second="*", args=[replica], max_instances=2)
            schedulers.append(scheduler)
        for scheduler in schedulers:
            scheduler.start()
        time.sleep(3.5)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
        for replica in replicas:
            replica.dispose()
    assert errors == []
    reviews = _reviews(db)
    assert sorted(r.customer_id for r in reviews) == ids


def test_concurrent_due_passes_never_open_a_review_twice(db: Database,
                                                          database_url: str) -> None:
    ids = [f"c-{i:03d}" for i in range(80)]
    for customer_id in ids:
        customer(db, customer_id, days_ago=400)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def replica() -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            due_review_pass(own)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.customer_id for r in _reviews(db)) == ids


def test_a_review_past_its_deadline_is_marked_overdue_once(db: Database) -> None:
    customer(db, "late", days_ago=60)
    risk(db, "late", "high")
    customer(db, "fresh", days_ago=31)
    risk(db, "fresh", "high")
    due_review_pass(db)  # late: due 30 days ago, deadline 16 days ago
    assert overdue_pass(db) == 1
    assert overdue_pass(db) == 0
    (late,) = [r for r in _reviews(db) if r.overdue_at is not None]
    assert late.customer_id == "late"


def _enqueue(db: Database, *payloads: dict[str, object]) -> None:
    with db.transaction() as session:
        for payload in payloads:
            queue.enqueue(session, topic=REVIEWS_SCORE_CHANGED, key=str(payload["customer_id"]),
                          payload=payload)


def test_a_worsened_tier_opens_a_triggered_review_at_once(db: Database) -> None:
    customer(db, "worse")
    risk(db, "worse", "high")
    customer(db, "better")
    risk(db, "better", "low")
    _enqueue(db, notice("worse", "high", "medium"), notice("better", "low", "medium"))
    assert _drain(db) == 2
    (review,) = _reviews(db)
    assert (review.customer_id, review.kind, review.tier) == ("worse", "triggered", "high")
    assert review.reason == "tier worsened: medium -> high"
    assert _opened_in_audit(db) == [("riskwatch scheduler", str(review.id), "worse",
                                     "triggered")]
    with db.sessions() as session:
        snapshots = session.execute(select(ProfileSnapshot.customer_id, ProfileSnapshot.tier,
                                           ProfileSnapshot.previous_tier)
                                    .order_by(ProfileSnapshot.customer_id)).all()
    assert [tuple(s) for s in snapshots] == [("better", "low", "medium"),
                                              ("worse", "high", "medium")]


def test_no_triggered_review_while_one_is_open_and_a_redelivery_adds_nothing(
        db: Database) -> None:
    customer(db, "c-1", days_ago=40)
    risk(db, "c-1", "high")
    due_review_pass(db)
    same = notice("c-1", "high", "medium")
    _enqueue(db, same)
    _drain(db)
    _enqueue(db, same)
    _drain(db)
    assert [r.kind for r in _reviews(db)] == ["periodic"]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProfileSnapshot)) == 1
    assert [kind for *_, kind in _opened_in_audit(db)] == ["periodic"]  # nothing skipped


def test_a_policy_can_leave_worsened_tiers_to_the_cadence(db: Database) -> None:
    with db.transaction() as session:
        session.add(ReviewPolicy(version=1, cadence_days={"low": 365, "medium": 90,
                                                          "high": 30},
                                 sla_days=14, open_on_worsened_tier=False, created_by="t"))
    customer(db, "c-1")
    _enqueue(db, notice("c-1", "high", "low"))
    _drain(db)
    assert _reviews(db) == []


def test_two_workers_on_a_burst_open_one_review_per_customer(db: Database,
                                                             database_url: str) -> None:
    ids = [f"b-{i:03d}" for i in range(60)]
    for customer_id in ids:
        customer(db, customer_id)
    # Each customer worsens twice in the burst (medium, then high).
    _enqueue(db, *[notice(c, "medium", "low", scored_at=f"2026-11-30T01:00:{i % 60:02d}")
                   for i, c in enumerate(ids)],
             *[notice(c, "high", "medium") for c in ids])
    errors: list[BaseException] = []

    def replica() -> None:
        own = Database(database_url)
        worker = build_worker(own)
        worker.consumers[0].batch_size = 7
        try:
            while worker.run_once():
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.customer_id for r in _reviews(db)) == ids
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkItem)) == 0


def test_scoring_a_customer_into_a_worse_tier_reaches_the_review_desk(db: Database) -> None:
    now = utcnow()
    customer(db, "c-1")
    add_events(db, event("c-1", "invoice.issued", now - days(150), invoice_id="i-1",
                         amount="40000.00", currency="EUR",
                         due_date=(now - days(120)).date().isoformat()),
               event("c-1", "credit_rating.updated", now - days(10), agency="a",
                     rating="CC", score=12))
    with db.transaction() as session:
        queue.enqueue(session, topic=SCORING_RESCORE, key="c-1", coalesce=True)
    drain_scoring(db)
    with db.sessions() as session:
        topics = session.scalars(select(WorkItem.topic)).all()
    assert REVIEWS_SCORE_CHANGED in topics
    _drain(db)
    (review,) = _reviews(db)
    assert review.kind == "triggered" and review.tier in ("medium", "high")


@pytest.mark.parametrize("payload", [{"tier": "high"}, {"tier": None, "previous_tier": "low"},
                                     {}])
def test_a_notice_without_a_tier_change_is_acknowledged_and_ignored(
        db: Database, payload: dict[str, object]) -> None:
    customer(db, "c-1")
    with db.transaction() as session:
        assert scheduling.on_score_changed(session, [{"customer_id": "c-1", **payload,
                                                      "previous_tier": payload.get(
                                                          "previous_tier", "high")}]) == 0
