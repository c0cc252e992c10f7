"""The event table by month on PostgreSQL (migration 0013, services/ingest/events/partitions):
maintenance makes the coming months, moves backfilled months out of the default partition,
drops what retention no longer keeps, and de-duplication holds across all of it."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from services.ingest.events import partitions, repository
from services.ingest.events.cloudevents import parse_event
from shared.db import Database
from shared.topics import ALERTS_EVENT, SCORING_RESCORE
from tests.ingest.factories import cloudevent

CE = {"content-type": "application/cloudevents+json"}
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
MONTHS = ["2026-06-15T08:00:00Z", "2026-09-03T00:00:00Z", "2026-11-01T10:00:00Z",
          "2026-11-30T23:59:59Z"]


@pytest.fixture(autouse=True)
def postgres_only(engine_name: str, db: Database) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite keeps one event table")
    with db.transaction() as session:  # partitions other tests of the session may have made
        for name in partitions.partitions(session).values():
            session.execute(sa.text(f"DROP TABLE {name}"))


def post(client: TestClient, event: dict[str, Any]) -> str:
    response = client.post("/v1/events", content=json.dumps(event), headers=CE)
    assert response.status_code in (200, 202), response.text
    status: str = response.json()["status"]
    return status


def where_stored(db: Database) -> dict[str, str]:
    """event_id -> the partition holding it."""
    with db.read() as session:
        return dict(session.execute(sa.text(
            "SELECT event_id, CAST(tableoid::regclass AS text) FROM event")).all())


def maintain(db: Database, *, retention_months: int = 0) -> partitions.PartitionReport:
    return partitions.maintain(db, now=NOW, months_ahead=2, retention_months=retention_months)


def test_backfilled_months_move_to_their_own_partitions_and_stay_duplicates(
        client: TestClient, db: Database) -> None:
    events = [cloudevent(time=moment) for moment in MONTHS]
    assert [post(client, e) for e in events] == ["accepted"] * 4
    assert set(where_stored(db).values()) == {"event_default"}

    report = maintain(db)

    assert report.created == ["event_2026_06", "event_2026_09", "event_2026_11",
                              "event_2026_12", "event_2027_01"]
    assert report.moved_rows == 4
    assert where_stored(db) == {
        events[0]["id"]: "event_2026_06", events[1]["id"]: "event_2026_09",
        events[2]["id"]: "event_2026_11", events[3]["id"]: "event_2026_11"}
    # Moving kept the keys: a replay of a moved event is still a duplicate, in any month.
    assert post(client, events[0]) == "duplicate"
    assert post(client, {**events[1], "time": "2026-12-05T00:00:00Z"}) == "duplicate"
    # New traffic lands in the month made ahead, not in the default partition.
    fresh = cloudevent(time="2026-12-24T09:00:00Z")
    assert post(client, fresh) == "accepted"
    assert where_stored(db)[fresh["id"]] == "event_2026_12"
    assert maintain(db).created == []  # nothing left to do


def test_the_features_query_of_a_window_reads_only_its_months(
        client: TestClient, db: Database) -> None:
    for moment in MONTHS:
        post(client, cloudevent(time=moment))
    maintain(db)
    with db.read() as session:
        plan = "\n".join(session.scalars(sa.text(
            "EXPLAIN SELECT count(*) FROM event WHERE customer_id = 'cust-1' "
            "AND occurred_at >= '2026-11-01' AND occurred_at < '2026-12-01'")))
    assert "event_2026_11" in plan
    assert "event_2026_06" not in plan and "event_2026_09" not in plan
    assert "event_default" not in plan


def test_retention_drops_old_months_and_frees_their_keys(
        client: TestClient, db: Database) -> None:
    old, kept = cloudevent(time=MONTHS[0]), cloudevent(time=MONTHS[2])
    post(client, old)
    post(client, kept)
    maintain(db)
    # Backfilled after the partitions were made, so it sits in the default partition.
    older = cloudevent(time="2025-01-10T00:00:00Z")
    post(client, older)

    report = maintain(db, retention_months=3)  # September, October, November

    assert report.dropped == ["event_2026_06"]
    assert report.deleted_old_rows == 1
    assert set(where_stored(db)) == {kept["id"]}
    with db.read() as session:
        keys = set(session.scalars(sa.text("SELECT event_id FROM event_key")))
    assert keys == {kept["id"]}
    assert post(client, kept) == "duplicate"


def test_two_maintainers_at_once_make_each_partition_once(
        client: TestClient, db: Database) -> None:
    for moment in MONTHS:
        post(client, cloudevent(time=moment))
    reports: list[partitions.PartitionReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(maintain(db))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    created = [name for report in reports for name in report.created]
    assert sorted(created) == ["event_2026_06", "event_2026_09", "event_2026_11",
                               "event_2026_12", "event_2027_01"]
    assert sum(report.moved_rows for report in reports) == 4
    assert len(where_stored(db)) == 4


def test_a_duplicate_inside_one_statement_and_a_deleted_event_behave_as_before(
        db: Database, client: TestClient) -> None:
    event = cloudevent()
    post(client, event)  # creates the customer
    with db.transaction() as session:
        stored = session.execute(sa.text(
            "INSERT INTO event (source, event_id, type, customer_id, occurred_at, received_at, "
            "attributes) SELECT 'erp/raw', 'same', 't', 'cust-1', now(), now(), '{}' "
            "FROM generate_series(1, 3) RETURNING id")).all()
    assert len(stored) == 1
    with db.transaction() as session:
        session.execute(sa.text("DELETE FROM event WHERE event_id = :id"), {"id": event["id"]})
    assert post(client, event) == "accepted"  # its key went with it


def test_a_pass_that_cannot_have_its_locks_gives_way_and_the_next_one_goes_on(
        client: TestClient, db: Database) -> None:
    post(client, cloudevent(time=MONTHS[0]))
    writer = db.engine.connect()
    try:
        writer.begin()  # a writer in the middle of its transaction on the default partition
        writer.execute(sa.text("LOCK TABLE event_default IN ROW EXCLUSIVE MODE"))
        started = time.monotonic()
        report = maintain(db)
        assert report.deferred and report.created == []
        assert time.monotonic() - started < 10  # not queued behind the writer
    finally:
        writer.rollback()
        writer.close()
    report = maintain(db)
    assert report.deferred is None and "event_2026_06" in report.created


def test_a_pass_takes_its_locks_in_ingests_order_so_the_two_never_deadlock(
        client: TestClient, db: Database) -> None:
    """Ingest writes an event's customer, then the event. A pass that locked the default
    partition first and then needed ``customer`` (attaching clones the foreign key) held
    what a writer waited for while waiting for what the writer held: PostgreSQL cancelled
    one of them, and when it was the writer, its event was answered 500. The pass must ask
    for ``customer`` before it holds anything on the event table."""
    post(client, cloudevent(time=MONTHS[0]))  # a month in the default partition to move
    writer = db.engine.connect()
    passes: list[partitions.PartitionReport] = []
    try:
        writer.begin()  # an ingest statement's first step: its customers written
        writer.execute(sa.text(
            "INSERT INTO customer (customer_id, registration_ids, attributes, incomplete, "
            "updated_at, created_at) VALUES ('c-lock-order', '{}', '{}', true, now(), now())"))
        maintainer = threading.Thread(target=lambda: passes.append(maintain(db)))
        maintainer.start()
        with db.engine.connect() as watcher:
            waiting = None
            deadline = time.monotonic() + 10
            while waiting is None and time.monotonic() < deadline and maintainer.is_alive():
                waiting = watcher.execute(sa.text(
                    "SELECT pid FROM pg_locks WHERE NOT granted AND relation = "
                    "CAST('customer' AS regclass)")).scalar()
            assert waiting is not None, "the pass never waited for the writer's customers"
            held = watcher.execute(sa.text(
                "SELECT CAST(relation::regclass AS text) FROM pg_locks WHERE pid = :pid "
                "AND granted AND relation IN (CAST('event' AS regclass), "
                "CAST('event_default' AS regclass))"), {"pid": waiting}).scalars().all()
        assert held == []
        maintainer.join(timeout=10)
        assert passes and passes[0].deferred  # it gave way to the writer
        writer.commit()
    finally:
        writer.close()
    assert post(client, cloudevent(time=MONTHS[0].replace("15T", "16T"))) == "accepted"
    assert "event_2026_06" in maintain(db).created


def _blocks(plan: dict[str, Any]) -> int:
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


def test_storing_one_event_does_not_read_every_stored_key(db: Database) -> None:
    """Ingest's statement for one event stays a few index probes however many keys are
    stored, even with the statistics of an empty table (a young database, or one growing
    faster than autovacuum analyses it): an anti join on event_key once sorted every key
    for each single event."""
    with db.transaction() as session:
        session.execute(sa.text("ANALYZE event_key"))  # statistics of an empty table
        session.execute(sa.text(
            "INSERT INTO event_key (source, event_id, occurred_at) "
            "SELECT 'erp/old', 'evt-' || n, now() FROM generate_series(1, 30000) AS n"))
    table_blocks = _relation_blocks(db, "event_key")
    assert table_blocks > 150  # a scan of it would be seen below

    def statement(subject: str) -> tuple[str, dict[str, Any]]:
        event = parse_event(cloudevent("order.placed", subject=subject), received_at=NOW)
        return repository.pg_store_statement(
            [event], now=NOW, rescore_topic=SCORING_RESCORE,
            rescore_payload={"reason": "event"}, alerts_topic=ALERTS_EVENT)

    with db.transaction() as session:
        # The session's first event loads the trigger function and catalog entries: those
        # blocks are the connection's, not the statement's.
        warm_sql, warm_params = statement("cust-warm")
        session.execute(sa.text(warm_sql), warm_params)
        sql, params = statement("cust-plan")
        explained = session.execute(
            sa.text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql), params).scalar_one()
        session.rollback()  # EXPLAIN ANALYZE stored the event: undo both
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    assert _blocks(plan) < 60, f"{_blocks(plan)} blocks read to store one event"


def _relation_blocks(db: Database, table: str) -> int:
    with db.read() as session:
        return int(session.execute(sa.text("SELECT pg_relation_size(CAST(:t AS regclass)) "
                                           "/ current_setting('block_size')::int"),
                                   {"t": table}).scalar_one())
