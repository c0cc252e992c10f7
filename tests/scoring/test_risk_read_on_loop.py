"""GET /risk reads on the event loop: it needs no request thread, so risk reads and the
credit checks that depend on them keep being answered while every thread is taken by slow
work (a report, a batch import, writes waiting on a lock)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.scoring.app import create_app
from services.scoring.jobs.rescore import run_rescore
from services.scoring.scores.service import needs_explaining
from services.scoring.simulator.loader import load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared.db import Database
from shared.models.scoring import CustomerRisk, ScoringJob
from tests.scoring.conftest import READ

HOLD_SECONDS = 15


def _scored_customer(db: Database) -> str:
    load_into_database(db, simulate(SimConfig(customers=6, months=6, seed=3)))
    run_rescore(db, ScoringJob(kind="rescore", request={"filter": {}, "trigger": "test"},
                               created_by="test"), lambda *_a, **_k: None)
    with db.read() as session:
        risks = list(session.scalars(select(CustomerRisk)))
    explained = [r.customer_id for r in risks if not needs_explaining(r)]
    assert explained, "the built-in scorecard explains every score when it is computed"
    return explained[0]


def test_a_risk_read_is_answered_while_every_request_thread_is_busy(
        db: Database, database_url: str) -> None:
    customer_id = _scored_customer(db)
    app = create_app(database_url)
    release, holding = threading.Event(), threading.Semaphore(0)

    def hold() -> dict[str, str]:  # a sync route: it takes a request thread until released
        holding.release()
        release.wait(HOLD_SECONDS)
        return {"status": "released"}

    app.add_api_route("/test/hold", hold)

    async def one_request_thread() -> None:
        to_thread.current_default_thread_limiter().total_tokens = 1

    with TestClient(app) as client, ThreadPoolExecutor(1) as caller:
        client.portal.call(one_request_thread)  # type: ignore[union-attr]
        held = caller.submit(client.get, "/test/hold")
        assert holding.acquire(timeout=10), "the slow route never started"
        started = time.monotonic()
        answer = client.get(f"/v1/customers/{customer_id}/risk", headers=READ)
        waited = time.monotonic() - started
        release.set()
        assert held.result(timeout=30).json() == {"status": "released"}
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer_id"] == customer_id
    assert answer.json()["reasons"], "explained when scored, and answered with its reasons"
    assert waited < HOLD_SECONDS / 3, f"the read waited {waited:.1f}s for a request thread"
