"""The work queue on both engines: exclusive claims, leases, backoff, dead letters, coalescing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, select, update

from shared import queue
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.worker import Loop, Worker

TOPIC = "test.topic"


def _enqueue(db: Database, n: int, *, coalesce: bool = False, key_prefix: str = "c") -> None:
    with db.transaction() as session:
        for i in range(n):
            queue.enqueue(session, topic=TOPIC, key=f"{key_prefix}{i}", payload={"i": i},
                          coalesce=coalesce)


def _all_items(db: Database) -> list[WorkItem]:
    with db.sessions() as session:
        return list(session.scalars(select(WorkItem).order_by(WorkItem.id)))


def test_enqueue_is_part_of_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        queue.enqueue(session, topic=TOPIC, key="c1")
        raise RuntimeError("business write failed")
    assert _all_items(db) == []


def test_burst_for_one_customer_coalesces_into_one_pending_item(db: Database) -> None:
    for i in range(5):
        with db.transaction() as session:
            queue.enqueue(session, topic=TOPIC, key="c1", payload={"n": i}, coalesce=True)
    items = _all_items(db)
    assert len(items) == 1
    assert items[0].coalesced == 4
    assert items[0].payload == {"n": 4}


def test_work_arriving_while_an_item_runs_is_not_swallowed(db: Database) -> None:
    _enqueue(db, 1, coalesce=True)
    with db.transaction() as session:
        claimed = queue.claim(session, topics=[TOPIC], worker_id="w1")
    assert len(claimed) == 1
    _enqueue(db, 1, coalesce=True)  # same key, arrives mid-processing
    assert len(_all_items(db)) == 2


def test_two_concurrent_consumers_never_hold_the_same_item(db: Database) -> None:
    _enqueue(db, 200)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def consume(name: str) -> None:
        try:
            while True:
                with db.transaction() as session:
                    items = queue.claim(session, topics=[TOPIC], worker_id=name, limit=7)
                if not items:
                    return
                seen[name].extend(item.id for item in items)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(n,)) for n in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not set(seen["a"]) & set(seen["b"])
    assert len(seen["a"]) + len(seen["b"]) == 200


def test_expired_lease_is_claimed_again_and_a_dead_consumer_loses_nothing(db: Database) -> None:
    _enqueue(db, 3)
    with db.transaction() as session:
        first = queue.claim(session, topics=[TOPIC], worker_id="dies",
                            lease=dt.timedelta(seconds=30))
    assert len(first) == 3
    # The consumer dies without acking. Until the lease expires nobody else gets the items.
    with db.transaction() as session:
        assert queue.claim(session, topics=[TOPIC], worker_id="survivor") == []
    with db.transaction() as session:
        session.execute(update(WorkItem).values(
            locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    with db.transaction() as session:
        again = queue.claim(session, topics=[TOPIC], worker_id="survivor")
    assert sorted(i.key for i in again) == ["c0", "c1", "c2"]
    assert all(i.attempts == 2 for i in again)
    # The dead consumer's late ack must not remove the survivor's item.
    with db.transaction() as session:
        assert queue.ack(session, again[0].id, worker_id="dies") is False
        assert queue.ack(session, again[0].id, worker_id="survivor") is True
    assert len(_all_items(db)) == 2


def test_failing_item_backs_off_then_dead_letters(db: Database,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKWATCH_QUEUE_MAX_ATTEMPTS", "3")
    from shared.settings import get_settings

    get_settings.cache_clear()
    try:
        _enqueue(db, 1)
        calls: list[int] = []

        def handler(_session: object, item: queue.ClaimedItem) -> None:
            calls.append(item.attempts)
            raise ValueError("downstream is broken")

        worker = Worker(name="t", db=db, loops=[Loop(handlers={TOPIC: handler})])
        assert worker.run_once() == 1
        [item] = _all_items(db)
        assert item.status == queue.ItemStatus.PENDING and item.attempts == 1
        assert item.available_at > dt.datetime.now(dt.UTC)  # backing off
        assert "downstream is broken" in (item.last_error or "")
        assert worker.run_once() == 0  # not yet available again
        for _ in range(2):
            with db.transaction() as session:
                session.execute(update(WorkItem).values(
                    available_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
            worker.run_once()
        [item] = _all_items(db)
        assert calls == [1, 2, 3]
        assert item.status == queue.ItemStatus.DEAD
        with db.transaction() as session:
            dead = queue.list_items(session, status=queue.ItemStatus.DEAD)
            assert [i.id for i in dead] == [item.id]
            assert queue.retry_dead(session, item.id)
        [item] = _all_items(db)
        assert item.status == queue.ItemStatus.PENDING and item.attempts == 0
    finally:
        get_settings.cache_clear()


def test_handler_effects_and_ack_commit_together(db: Database) -> None:
    _enqueue(db, 2)

    def handler(session: object, item: queue.ClaimedItem) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        queue.enqueue(session, topic="test.follow-up", key=item.key)
        if item.key == "c1":
            raise RuntimeError("boom")

    Worker(name="t", db=db, loops=[Loop(handlers={TOPIC: handler})]).run_once()
    items = _all_items(db)
    # c0 was handled: its follow-up exists and it is gone. c1 failed: no follow-up, retried.
    assert sorted((i.topic, i.key) for i in items) == [("test.follow-up", "c0"), (TOPIC, "c1")]


def test_backoff_grows_exponentially_and_is_capped() -> None:
    delays = [queue.backoff_delay(n).total_seconds() for n in (1, 2, 3, 4)]
    assert 0.5 <= delays[0] <= 1.0
    assert 4.0 <= delays[3] <= 8.0
    assert queue.backoff_delay(50).total_seconds() <= 600


def test_consumer_process_killed_mid_batch_loses_nothing(db: Database, database_url: str) -> None:
    import os
    import subprocess
    import sys
    import time

    _enqueue(db, 5)
    script = (
        "import datetime as dt, os\n"
        "from shared import queue\nfrom shared.db import Database\n"
        f"db = Database({database_url!r})\n"
        "with db.transaction() as s:\n"
        f"    items = queue.claim(s, topics=[{TOPIC!r}], worker_id='doomed', limit=5,\n"
        "                        lease=dt.timedelta(seconds=1))\n"
        "assert len(items) == 5\n"
        "os._exit(9)  # dies mid-batch: no ack, no cleanup\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=dict(os.environ),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr
    time.sleep(1.2)
    with db.transaction() as session:
        recovered = queue.claim(session, topics=[TOPIC], worker_id="heir")
    assert sorted(i.key for i in recovered) == [f"c{i}" for i in range(5)]


def test_claimed_item_knows_its_last_attempt(db: Database) -> None:
    _enqueue(db, 1)
    with db.transaction() as session:
        session.execute(update(WorkItem).values(attempts=WorkItem.max_attempts - 1))
    with db.transaction() as session:
        [item] = queue.claim(session, topics=[TOPIC], worker_id="w")
    assert item.final_attempt and item.attempts == item.max_attempts


def test_acking_a_batch_removes_only_the_items_still_ours(db: Database) -> None:
    with db.transaction() as session:
        for key in ("a", "b", "c"):
            queue.enqueue(session, topic="t", key=key)
    with db.transaction() as session:
        items = queue.claim(session, topics=["t"], worker_id="w1", limit=10)
    with db.transaction() as session:  # b's lease expired and another worker took it
        session.execute(update(WorkItem).where(WorkItem.key == "b").values(locked_by="w2"))
    with db.transaction() as session:
        assert queue.ack_many(session, [i.id for i in items], worker_id="w1") == 2
    with db.sessions() as session:
        assert session.scalars(select(WorkItem.key)).all() == ["b"]


def test_concurrent_claims_never_take_more_than_their_limit(db: Database,
                                                            database_url: str) -> None:
    # Statistics taken right after a large drain (as autovacuum does) make a nested-loop
    # plan likely, the shape that re-ran the claim's LIMIT subquery per row.
    with db.transaction() as session:
        queue.enqueue_batch(session, topic=TOPIC, coalesce=False, now=utcnow(),
                            items=[(f"old{i}", {}) for i in range(60_000)])
    with db.transaction() as session:
        session.execute(delete(WorkItem))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE work_item")
        conn.commit()
    with db.transaction() as session:
        queue.enqueue_batch(session, topic=TOPIC, coalesce=False, now=utcnow(),
                            items=[(f"c{i}", {}) for i in range(10_000)])
    barrier = threading.Barrier(4)
    sizes: list[int] = []

    def claimer(name: str) -> None:
        own = Database(database_url)
        try:
            barrier.wait()
            with own.transaction() as session:
                sizes.append(len(queue.claim(session, topics=[TOPIC], worker_id=name,
                                             limit=500)))
        finally:
            own.dispose()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sizes == [500] * 4


def test_a_batch_keeps_payloads_the_fast_encoder_refuses(db: Database) -> None:
    """An event's data may carry an integer beyond 64 bits: the batch still goes, whole."""
    payloads = {"big": {"amount": 2**70, "nested": {"x": [1.5, None, "é"]}},
                "plain": {"amount": 3}}
    with db.transaction() as session:
        queue.enqueue_batch(session, topic=TOPIC, coalesce=False, now=utcnow(),
                            items=list(payloads.items()))
    assert {item.key: item.payload for item in _all_items(db)} == payloads
