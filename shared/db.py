"""Engines and sessions: PostgreSQL via psycopg 3, SQLite with WAL, a busy timeout and FKs on."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    String,
    TextClause,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.settings import get_settings


@functools.lru_cache(maxsize=256)
def statement(sql: str) -> TextClause:
    """``text(sql)``, made once per distinct statement text. ``text()`` scans the whole text
    for bind parameters on every call: 0.16 ms for ingest's 3,000-character store statement,
    a tenth of a single event's CPU in the ingest API. The texts passed here are built from
    code (tables, columns, topics), never from input, so they are few."""
    return text(sql)


def normalize_url(url: str) -> str:
    """Let users write plain ``postgresql://`` URLs; we always talk psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def is_postgres(bind: Session | Engine | Connection) -> bool:
    """The one engine check: PostgreSQL (production) or SQLite (the embedded default)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, whose SQL text does not change
    with the number of values, so the driver prepares it once (an IN list of a batch's ids
    was re-rendered and re-parsed on every query: 0.12 s of a 2,000-customer rescore batch).
    Not for a query whose plan should depend on how many values there are (the feature
    query keeps its IN list)."""
    listed = list(values)
    if not is_postgres(session):
        condition: ColumnElement[bool] = column.in_(listed)
        return condition
    item = BigInteger() if listed and isinstance(listed[0], int) else String()
    condition = column == any_(bindparam(None, listed, type_=postgresql.ARRAY(item)))
    return condition


def dialect_insert(session: Session) -> Any:
    """The engine's own INSERT construct: both speak ON CONFLICT … DO NOTHING / DO UPDATE."""
    return postgresql.insert if is_postgres(session) else sqlite.insert


class Lock(IntEnum):
    """Every PostgreSQL advisory lock the suite takes, named in one place so two mechanisms
    never share an id by accident. The values are arbitrary but must never change while
    an older release may still run against the same database."""

    AUDIT_APPEND = 7_314_001  # retired with the hash chain (appends take no lock): never reuse
    CUSTOMER_SCORING = 7_314_002  # one scoring of a customer at a time, across replicas
    IDEMPOTENCY_KEY = 7_314_003  # one request per idempotency key at a time
    AUDIT_SEQUENCER = 7_314_004  # one audit log sequencer at a time, across replicas
    TIER_CONFIG = 7_314_010  # tier configuration versions are numbered one at a time
    EVENT_PARTITIONS = 7_314_011  # one partition maintenance of the event table at a time


# With keys, the lock is (lock id, hashtext(key)): PostgreSQL's two-int key space, which
# never overlaps the one-bigint space of a lock without key. Taken in key order in one
# statement, so two transactions locking overlapping sets never deadlock.
_LOCK_KEYS = text("SELECT pg_advisory_xact_lock(:lock, hashtext(k)) "
                  "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k")


def xact_lock(session: Session, lock: Lock, *keys: str) -> None:
    """Wait for an advisory lock held until the transaction ends: the whole ``lock``, or one
    per key. SQLite needs none: its single writer already serialises transactions."""
    if not is_postgres(session):
        return
    if keys:
        session.execute(_LOCK_KEYS, {"lock": int(lock), "keys": sorted(set(keys))})
    else:
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": int(lock)})


def try_xact_lock(session: Session, lock: Lock, key: str) -> bool:
    """Like :func:`xact_lock` for one key, without waiting: False while another transaction
    holds it. Always True on SQLite (one writer at a time)."""
    if not is_postgres(session):
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:lock, hashtext(:key))"),
                               {"lock": int(lock), "key": key}))


READ_ONLY_OPTION = "riskwatch_read_only"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN is ours (see below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite has one writer. BEGIN IMMEDIATE takes the write lock up front, so a
        # transaction that reads then writes waits its turn instead of failing with
        # SQLITE_BUSY_SNAPSHOT half-way (several processes share the file). Pure reads
        # (Database.read) take a deferred transaction: a snapshot, and no writer waits.
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    settings = get_settings()
    url = normalize_url(url or settings.database_url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **kwargs)
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", settings.db_pool_size)
        kwargs.setdefault("max_overflow", settings.db_max_overflow)
    # No pre-ping: it costs a round trip per checkout. Stale connections are recycled, and a
    # disconnect invalidates the pool so only the request that hit it fails.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


class WriteInReadError(RuntimeError):
    """A write inside Database.read(): on SQLite it would be dropped with the deferred
    transaction, on PostgreSQL committed statement by statement. Either is a bug."""


def _refuse_writes(factory: sessionmaker[Session]) -> None:
    @event.listens_for(factory, "do_orm_execute")
    def _on_execute(state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise WriteInReadError("a write in a read-only session; use Database.transaction()")

    @event.listens_for(factory, "before_flush")
    def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
        if session.new or session.dirty or session.deleted:
            raise WriteInReadError("a flush in a read-only session; use Database.transaction()")


class Database:
    """One engine and its session factory for a process."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool. On PostgreSQL each statement is its own transaction: no BEGIN and no
        # COMMIT round trip, which is most of a one-statement read's cost.
        self._read_sessions = sessionmaker(
            self.engine.execution_options(
                **({READ_ONLY_OPTION: True} if self.engine.dialect.name == "sqlite"
                   else {"isolation_level": "AUTOCOMMIT"})),
            expire_on_commit=False)
        _refuse_writes(self._read_sessions)
        self._read_transactions = sessionmaker(
            self.engine.execution_options(
                **({READ_ONLY_OPTION: True} if self.engine.dialect.name == "sqlite"
                   else {"postgresql_readonly": True})),
            expire_on_commit=False)
        _refuse_writes(self._read_transactions)
        self._autocommit_sessions = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends, roll back if it raises."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit that only reads: one round trip per statement on PostgreSQL (autocommit);
        a deferred transaction on SQLite. Nothing written in it is kept on SQLite, and on
        PostgreSQL nothing may be: use transaction() for writes."""
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """A read-only transaction, for reads that need one: ``SET LOCAL`` (a report's
        ``work_mem``) holds until it ends. PostgreSQL: ``BEGIN READ ONLY``; SQLite: a deferred
        transaction (one snapshot, and no writer waits for it, nor it for a writer)."""
        with self._read_transactions() as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """For a unit whose only write is one statement (an audit entry after reads): on
        PostgreSQL each statement commits on its own (no BEGIN / COMMIT round trips); on
        SQLite it is transaction(). Never for two writes that must commit together."""
        if self.engine.dialect.name == "sqlite":
            with self.transaction() as session:
                yield session
            return
        with self._autocommit_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
