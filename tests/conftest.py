"""Test fixtures: every database test runs on real SQLite and real PostgreSQL, each migrated
with the real migrations; each test starts from empty tables."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from services.alerts.builtins import ensure_builtins
from shared import topics
from shared.auth import Principal, identity_headers
from shared.db import Database, Lock, is_postgres, normalize_url
from shared.migrate import upgrade
from shared.models import Base
from tests.stack import Stack, start_stack

os.environ.setdefault("RISKWATCH_ENV", "test")
TEST_SECRET = "test-internal-secret"
os.environ["RISKWATCH_INTERNAL_SECRET"] = TEST_SECRET
POSTGRES_ADMIN_URL = os.environ.get(
    "RISKWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_pg_notice_shown = False


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL),
                                  isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """A freshly migrated database of each engine, shared by the tests of one session."""
    global _pg_notice_shown
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "riskwatch.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {problem}")
        if not _pg_notice_shown:
            print(f"\n!!! PostgreSQL not reachable ({problem}): PostgreSQL tests SKIPPED !!!\n")
            _pg_notice_shown = True
        pytest.skip("PostgreSQL not reachable")
    name = f"rw_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def session_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _empty_all_tables(database: Database) -> None:
    # Between `live` tests the stack's workers keep running, and one may be mid-transaction:
    # it holds a row lock on one table and asks for another that TRUNCATE already holds,
    # while TRUNCATE waits for the first. PostgreSQL breaks the cycle by failing one of the
    # two; a failed worker transaction is retried by its queue, a failed TRUNCATE here.
    for attempt in range(5):
        try:
            _truncate_all(database)
            return
        except sa.exc.OperationalError as exc:
            if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == 4:
                raise


def _truncate_all(database: Database) -> None:
    with database.engine.begin() as conn:
        if is_postgres(database.engine):
            # event_key: the de-duplication keys of the partitioned event table (0013),
            # which TRUNCATE's lack of row triggers would otherwise leave behind.
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            names += ', "event_key"'
            # The live stack's ingest worker may be attaching an event partition (it locks
            # the partition, then checks its foreign key against customer): take its lock
            # first, so the two wait in turn instead of deadlocking.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"),
                         {"lock": int(Lock.EVENT_PARTITIONS)})
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


# The running stack of each database, so in-process tests can keep its workers off the queue.
_stacks: dict[str, Stack] = {}


@pytest.fixture
def db(session_db: Database, database_url: str,
       request: pytest.FixtureRequest) -> Iterator[Database]:
    """The session's database, emptied after the test.

    A test that does not use the live stack owns the work queue: the stack's workers (if
    the stack runs) are stopped so they cannot claim the items the test inspects.
    """
    stack = _stacks.get(database_url)
    if stack is not None and "live" not in request.fixturenames:
        stack.stop_workers()
    yield session_db
    _empty_all_tables(session_db)


@pytest.fixture
def engine_name(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def auth_headers(*scopes: str, key_id: str = "test-key", name: str = "tests") -> dict[str, str]:
    """Headers the gateway would add for a caller holding ``scopes`` (for in-process apps)."""
    principal = Principal(key_id, name, frozenset(scopes))
    return identity_headers(principal, secret=TEST_SECRET)


@pytest.fixture(scope="session")
def stack(database_url: str) -> Iterator[Stack]:
    """Gateway + four services (+ workers) as real processes over real HTTP."""
    with start_stack(database_url, internal_secret=TEST_SECRET, with_workers=False) as running:
        _stacks[database_url] = running
        yield running
        _stacks.pop(database_url, None)


@pytest.fixture
def live(stack: Stack, db: Database) -> Stack:
    """The running stack, workers included, with emptied tables after the test.

    The tables are as a stack's start leaves them: the admin key, and the built-in alert
    rules and playbooks that the alerts service seeds (emptied after the previous test while
    the processes kept running)."""
    stack.ensure_admin_key(db)
    with db.transaction() as session:
        ensure_builtins(session)
    stack.start_workers()
    return stack


def _engine_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("database_url") if callspec is not None else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs each engine's ``live`` tests together, after its other tests.

    ``db`` stops the stack's workers and ``live`` starts them again, and a worker's start
    (interpreter, imports, connection pool) costs seconds of CPU. In collection order the
    live tests are spread over many modules, so the workers were started again for each
    block of them; grouped, they start once per engine. The order is otherwise pytest's own
    (trylast: after pytest grouped the items by engine), and no test depends on another's.
    """
    live_by_engine: dict[str, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        engine = _engine_of(item)
        if engine is not None and "live" in getattr(item, "fixturenames", ()):
            live_by_engine.setdefault(engine, []).append(item)
        else:
            rest.append(item)
    last_of_engine = {_engine_of(item): index for index, item in enumerate(rest)}
    ordered: list[pytest.Item] = []
    for index, item in enumerate(rest):
        ordered.append(item)
        engine = _engine_of(item)
        if engine is not None and last_of_engine[engine] == index:
            ordered.extend(live_by_engine.pop(engine, []))
    for leftover in live_by_engine.values():  # an engine whose every test is live
        ordered.extend(leftover)
    items[:] = ordered


@pytest.fixture
def every_topic_consumed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the alerts and reviews workers existed (shared/topics.py), to test the work
    producers will enqueue for them."""
    for topic, route in topics.ROUTES.items():
        monkeypatch.setitem(topics.ROUTES, topic, dataclasses.replace(route, consumed=True))
