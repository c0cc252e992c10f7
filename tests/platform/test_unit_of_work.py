"""Each route commits its own unit of work before it answers: a commit the database refuses
is never answered 2xx, and a small connection pool under many callers never deadlocks with
the thread pool."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from services.scoring.app import create_app
from services.scoring.tiers.schemas import DEFAULT_STRATEGIES
from shared.db import Database
from tests.conftest import TEST_SECRET
from tests.scoring.conftest import READ, WRITE
from tests.scoring.factories import add_customer
from tests.stack import Stack, free_port

CALLERS = 32


def _tier_config() -> dict[str, Any]:
    return {"thresholds": {"medium": 0.03, "high": 0.2},
            "strategies": {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()},
            "comment": "refused at commit"}


@pytest.fixture
def refusing_commits(db: Database, engine_name: str) -> Iterator[None]:
    """PostgreSQL: a deferred constraint trigger refuses every new tier configuration when
    the transaction commits (the statement itself succeeds)."""
    if engine_name != "postgresql":
        yield
        return
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"))
        conn.execute(sa.text(
            "CREATE CONSTRAINT TRIGGER refuse_tier_config AFTER INSERT ON tier_config "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()"))
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER refuse_tier_config ON tier_config"))
            conn.execute(sa.text("DROP FUNCTION refuse_at_commit()"))


def test_a_write_whose_commit_fails_is_answered_5xx_and_leaves_nothing(
        db: Database, database_url: str, engine_name: str, refusing_commits: None) -> None:
    app = create_app(database_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        if engine_name == "sqlite":
            # SQLite has no deferred checks to add here; its commit fails when the file is
            # locked, which the engine's commit hook stands in for.
            def locked(_conn: Any) -> None:
                raise sqlite3.OperationalError("database is locked")

            sa.event.listen(app.state.db.engine, "commit", locked)
        answer = client.put("/v1/tiers", json=_tier_config(), headers=WRITE)
        if engine_name == "sqlite":
            sa.event.remove(app.state.db.engine, "commit", locked)
        assert answer.status_code >= 500, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/tiers", headers=READ).json()["version"] == 0


@pytest.fixture
def scoring_with_small_pool(db: Database, database_url: str) -> Iterator[str]:
    """The scoring API as a real uvicorn process: 8 threads, 2 pooled connections."""
    port = free_port()
    env = {**os.environ,
           "RISKWATCH_DATABASE_URL": database_url, "RISKWATCH_INTERNAL_SECRET": TEST_SECRET,
           "RISKWATCH_LOG_LEVEL": "WARNING", "RISKWATCH_THREADPOOL_SIZE": "8",
           "RISKWATCH_DB_POOL_SIZE": "2", "RISKWATCH_DB_MAX_OVERFLOW": "0"}
    stack = Stack(database_url=database_url, env=env, ports={"scoring": port},
                  log_dir=Path(tempfile.mkdtemp(prefix="riskwatch-uow-")))
    stack.start("scoring")
    try:
        yield stack.url("scoring")
    finally:
        stack.stop("scoring")


def test_32_concurrent_callers_on_a_two_connection_pool_all_get_answers_quickly(
        db: Database, scoring_with_small_pool: str) -> None:
    # A pool timeout takes 30 s; with more threads than connections, a session still open
    # while FastAPI validates the answer on the thread pool would wait that long.
    add_customer(db, "uow-1")
    decision = {"customer_id": "uow-1", "amount": "100.00", "currency": "EUR"}

    def caller(i: int) -> list[int]:
        with httpx.Client(base_url=scoring_with_small_pool, timeout=60) as client:
            codes = []
            for _ in range(4):
                if i % 2:  # a write: the decision is audited
                    codes.append(client.post("/v1/decisions/credit", json=decision,
                                             headers=READ).status_code)
                else:
                    codes.append(client.get("/v1/tiers", headers=READ).status_code)
            return codes

    started = time.monotonic()
    with ThreadPoolExecutor(CALLERS) as pool:
        codes = [c for result in pool.map(caller, range(CALLERS)) for c in result]
    elapsed = time.monotonic() - started
    assert codes == [200] * (CALLERS * 4)
    assert elapsed < 20, f"{elapsed:.1f}s: requests waited for the connection pool"
