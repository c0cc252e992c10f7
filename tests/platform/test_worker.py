"""The shared worker loop on both engines: batch handlers with their one-by-one fallback,
lost leases, several loops in one process, and scheduled jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import queue
from shared.db import Database
from shared.models import WorkItem
from shared.settings import get_settings
from shared.worker import BatchHandler, Loop, Schedule, Worker

TOPIC = "test.batch"
FOLLOW_UP = "test.follow-up"


def _enqueue(db: Database, *keys: str, topic: str = TOPIC) -> None:
    with db.transaction() as session:
        for key in keys:
            queue.enqueue(session, topic=topic, key=key)


def _items(db: Database) -> list[WorkItem]:
    with db.sessions() as session:
        return list(session.scalars(select(WorkItem).order_by(WorkItem.id)))


def _follow_ups(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
    for item in items:
        queue.enqueue(session, topic=FOLLOW_UP, key=item.key)


def _batch_worker(db: Database, handler: BatchHandler) -> Worker:
    return Worker(name="t", db=db, loops=[Loop(batch_handlers={TOPIC: handler})])


def test_a_batch_handler_gets_the_whole_claimed_batch_in_one_call(db: Database) -> None:
    _enqueue(db, "a", "b", "c")
    calls: list[list[str]] = []

    def handler(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
        calls.append([item.key for item in items])
        _follow_ups(session, items)

    assert _batch_worker(db, handler).run_once() == 3
    assert calls == [["a", "b", "c"]]
    assert [(i.topic, i.key) for i in _items(db)] == [(FOLLOW_UP, k) for k in "abc"]


def test_a_failed_batch_is_retried_one_by_one_so_only_the_bad_item_fails(db: Database) -> None:
    _enqueue(db, "a", "bad", "c")
    calls: list[list[str]] = []

    def handler(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
        calls.append([item.key for item in items])
        _follow_ups(session, items)
        if any(item.key == "bad" for item in items):
            raise ValueError("cannot handle bad")

    assert _batch_worker(db, handler).run_once() == 3
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    items = _items(db)
    # a and c are done (their follow-ups committed with their acks); bad alone retries.
    assert sorted((i.topic, i.key) for i in items) == sorted([
        (FOLLOW_UP, "a"), (FOLLOW_UP, "c"), (TOPIC, "bad")])
    [bad] = [i for i in items if i.topic == TOPIC]
    assert bad.status == queue.ItemStatus.PENDING and bad.attempts == 1
    assert "cannot handle bad" in (bad.last_error or "") and bad.locked_by is None


def test_an_item_whose_lease_was_lost_is_left_to_its_new_holder(db: Database) -> None:
    _enqueue(db, "a", "b", "c")
    calls: list[list[str]] = []

    def handler(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
        if not calls:
            # Another replica took b over (our lease expired) before this batch finished.
            with db.transaction() as other:
                other.execute(update(WorkItem).where(WorkItem.key == "b")
                              .values(locked_by="thief"))
        calls.append([item.key for item in items])
        _follow_ups(session, items)

    assert _batch_worker(db, handler).run_once() == 3
    assert calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    items = _items(db)
    assert sorted((i.topic, i.key) for i in items) == sorted([
        (FOLLOW_UP, "a"), (FOLLOW_UP, "c"), (TOPIC, "b")])
    [stolen] = [i for i in items if i.topic == TOPIC]
    # Not failed by us: no error recorded, the thief's lease untouched.
    assert (stolen.locked_by, stolen.last_error, stolen.attempts) == ("thief", None, 1)


def test_a_slow_loop_does_not_delay_the_other_loops_of_the_worker(db: Database) -> None:
    release = threading.Event()
    fast_done = threading.Event()

    def slow(_session: Session, _item: queue.ClaimedItem) -> None:
        release.wait(20)

    def fast(_session: Session, _item: queue.ClaimedItem) -> None:
        fast_done.set()

    worker = Worker(name="t", db=db, loops=[
        Loop(name="slow", handlers={"test.slow": slow}, poll_seconds=0.05),
        Loop(name="fast", handlers={"test.fast": fast}, poll_seconds=0.05)])
    _enqueue(db, "s", topic="test.slow")
    runner = threading.Thread(target=worker.run_forever)
    runner.start()
    try:
        time.sleep(0.5)  # the slow loop is now inside its handler
        _enqueue(db, "f", topic="test.fast")
        assert fast_done.wait(10)
        assert not release.is_set()
    finally:
        release.set()
        worker.stop()
        runner.join(30)
    assert not runner.is_alive()
    assert _items(db) == []


def test_a_declared_schedule_runs_its_job_with_the_database(db: Database) -> None:
    ran: list[Database] = []
    worker = Worker(name="t", db=db, loops=[Loop(handlers={TOPIC: lambda s, i: None},
                                                 poll_seconds=0.05)],
                    schedules=[Schedule(id="every-second", job=ran.append,
                                        cron={"second": "*"})])
    runner = threading.Thread(target=worker.run_forever)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        runner.join(30)
    assert ran and ran[0] is db


def _listening_worker(db: Database, handled: threading.Event) -> Worker:
    return Worker(name="t", db=db, loops=[Loop(handlers={TOPIC: lambda s, i: handled.set()})])


def test_an_idle_worker_is_told_of_new_work_instead_of_polling_for_it(
        db: Database, engine_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: an enqueue notifies (migration 0015), and a worker whose loops would
    otherwise wait a minute between polls claims the item at once. SQLite polls."""
    if engine_name != "postgresql":
        pytest.skip("SQLite has no notifications: its workers poll")
    monkeypatch.setenv("RISKWATCH_WORKER_LISTEN_POLL_SECONDS", "60")
    get_settings.cache_clear()
    handled = threading.Event()
    worker = _listening_worker(db, handled)
    runner = threading.Thread(target=worker.run_forever)
    runner.start()
    try:
        assert worker.wakeups.listening.wait(10)
        time.sleep(0.5)  # the loop has found nothing and waits
        started = time.monotonic()
        _enqueue(db, "k")
        assert handled.wait(10)
        assert time.monotonic() - started < 5  # not the next poll, a minute away
    finally:
        worker.stop()
        runner.join(30)
        get_settings.cache_clear()
    assert not runner.is_alive()
    assert _items(db) == []


def test_a_worker_stops_at_once_however_long_its_idle_wait(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKWATCH_WORKER_LISTEN_POLL_SECONDS", "60")
    monkeypatch.setenv("RISKWATCH_WORKER_POLL_SECONDS", "60")
    get_settings.cache_clear()
    worker = _listening_worker(db, threading.Event())
    runner = threading.Thread(target=worker.run_forever)
    runner.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        worker.stop()
        runner.join(30)
        assert time.monotonic() - started < 5
    finally:
        get_settings.cache_clear()
    assert not runner.is_alive()
