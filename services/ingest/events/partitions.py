"""Monthly partitions of the event table on PostgreSQL (migration 0013), kept by the ingest
worker's hourly job.

- The coming months get their partition ahead of time, so live traffic never lands in the
  DEFAULT partition.
- A month found in the default partition (a backfill of old history, an event dated far
  ahead) is moved into a partition of its own: the features' time-window queries then read
  only the months they ask for.
- With a retention, months wholly before it are dropped (a metadata operation, not a
  DELETE of millions of rows) and their de-duplication keys purged.

SQLite keeps one table: every function here does nothing there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shared.db import Database, Lock, is_postgres, xact_lock

DEFAULT_PARTITION = "event_default"
LOCK_NOT_AVAILABLE = "55P03"
log = logging.getLogger("riskwatch.ingest")


@dataclass
class PartitionReport:
    created: list[str] = field(default_factory=list)
    moved_rows: int = 0
    dropped: list[str] = field(default_factory=list)
    deleted_old_rows: int = 0
    deferred: str | None = None  # why the pass stopped early (a lock it did not get)


# DDL waits for its locks with every later writer queued behind it: a maintenance pass that
# cannot have them at once gives up (and tries again next hour) rather than stall ingest, or
# deadlock with another session's multi-table lock. Below PostgreSQL's deadlock_timeout (1 s),
# so it is this pass that yields.
LOCK_TIMEOUT = "500ms"


def month_start(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date().replace(day=1)


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"event_{month:%Y_%m}"


def _bound(month: dt.date) -> str:
    # A literal in DDL (ATTACH takes no parameters); built from a date, never from input.
    return f"'{month.isoformat()} 00:00:00+00'"


def partitions(session: Session) -> dict[dt.date, str]:
    """The monthly partitions attached to ``event``, by month."""
    names = session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST('event' AS regclass)"))
    found = {}
    for name in names:
        if name != DEFAULT_PARTITION:
            year, month = name.removeprefix("event_").split("_")
            found[dt.date(int(year), int(month), 1)] = name
    return found


def months_in_default(session: Session) -> set[dt.date]:
    rows = session.scalars(text(
        f"SELECT DISTINCT date_trunc('month', occurred_at, 'UTC') FROM {DEFAULT_PARTITION}"))
    return {month_start(moment) for moment in rows}


def create_partition(session: Session, month: dt.date) -> int:
    """Attach ``month``'s partition, moving its rows out of the default partition first.
    Returns the rows moved. Writes of customers and of events, which write their customers
    first, wait until the transaction ends (an empty month's: milliseconds); reads go on."""
    name, lo, hi = partition_name(month), _bound(month), _bound(add_months(month, 1))
    session.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(text(f"CREATE TABLE {name} (LIKE event INCLUDING DEFAULTS)"))
    # With this CHECK in place, ATTACH need not scan the new partition to prove its range.
    session.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range "
                         f"CHECK (occurred_at >= {lo} AND occurred_at < {hi})"))
    session.execute(text("SET LOCAL riskwatch.moving_events = 'on'"))  # keys stay claimed
    moved = session.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
        f"WHERE occurred_at >= {lo} AND occurred_at < {hi} RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"))
    session.execute(text("SET LOCAL riskwatch.moving_events = 'off'"))
    session.execute(text(f"ALTER TABLE event ATTACH PARTITION {name} "
                         f"FOR VALUES FROM ({lo}) TO ({hi})"))
    session.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))
    return int(moved.rowcount or 0)  # type: ignore[attr-defined]


def maintain(db: Database, *, now: dt.datetime, months_ahead: int,
             retention_months: int) -> PartitionReport:
    """Create the partitions that are due, move months out of the default partition, drop
    what retention no longer keeps. Safe with several replicas: one at a time holds the
    lock, and each month is re-checked under it."""
    report = PartitionReport()
    if not is_postgres(db.engine):
        return report
    this_month = month_start(now)
    horizon = add_months(this_month, -retention_months) if retention_months > 0 else None
    with db.read() as session:
        existing = set(partitions(session))
        wanted = {add_months(this_month, k) for k in range(months_ahead + 1)}
        wanted |= months_in_default(session)
    if horizon is not None:
        wanted = {month for month in wanted if month >= horizon}
    try:
        create_partitions(db, wanted - existing, report)
        if horizon is not None:
            with _maintenance(db) as session:
                _drop_before(session, horizon, report)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        report.deferred = "the event table was busy; the next pass goes on"
        log.info("event partition maintenance deferred: %s", str(exc.orig).strip())
    return report


@contextmanager
def _maintenance(db: Database) -> Iterator[Session]:
    """One maintenance transaction: the replicas' lock first, then DDL that will not wait.

    Its table locks come in the order ingest takes them: ``customer`` first. Attaching or
    dropping a partition adds or removes the event table's foreign key on it, which locks
    ``customer`` against writes, and ingest writes an event's customer before the event.
    A pass that locked the default partition first deadlocked with a writer that held
    customers and waited for that partition, and when PostgreSQL cancelled the writer its
    events were answered 500 (bench.requests: events dated in a month being moved)."""
    with db.transaction() as session:
        xact_lock(session, Lock.EVENT_PARTITIONS)
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        session.execute(text("LOCK TABLE customer IN SHARE ROW EXCLUSIVE MODE"))
        yield session


def create_partitions(db: Database, months: set[dt.date],
                      report: PartitionReport | None = None) -> PartitionReport:
    """Partitions for ``months`` (first days), each in its own transaction so each holds its
    locks only for its own rows; a month another replica made meanwhile is skipped."""
    report = report or PartitionReport()
    for month in sorted(months):
        with _maintenance(db) as session:
            if month in partitions(session):
                continue
            report.moved_rows += create_partition(session, month)
            report.created.append(partition_name(month))
    return report


def _drop_before(session: Session, horizon: dt.date, report: PartitionReport) -> None:
    for month, name in sorted(partitions(session).items()):
        if add_months(month, 1) <= horizon:
            session.execute(text(f"DROP TABLE {name}"))
            report.dropped.append(name)
    # The default partition's old rows go one by one (its delete trigger frees their keys);
    # the dropped partitions' keys go here.
    cutoff = {"cutoff": dt.datetime.combine(horizon, dt.time(), dt.UTC)}
    deleted = session.execute(text(
        f"DELETE FROM {DEFAULT_PARTITION} WHERE occurred_at < :cutoff"), cutoff)
    report.deleted_old_rows = int(deleted.rowcount or 0)  # type: ignore[attr-defined]
    session.execute(text("DELETE FROM event_key WHERE occurred_at < :cutoff"), cutoff)
