"""One live stack for every cockpit test (SQLite: the cockpit never touches the schema, so
one engine is enough), seeded through the gateway by the simulator as a CRM would, and a
signed-in page client."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.scoring.simulator.loader import labelled_csv, push_through_api
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared.auth import create_key
from shared.db import Database
from shared.migrate import upgrade
from tests.stack import Stack, start_stack

CUSTOMERS = 16


@dataclass
class Desk:
    stack: Stack
    reader_key: str  # alerts:read only
    analyst_key: str  # alerts:read and alerts:write, another person than the admin key

    @property
    def gateway(self) -> str:
        return self.stack.gateway

    def api(self) -> httpx.Client:
        return self.stack.client()


@pytest.fixture(scope="session")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    path: Path = tmp_path_factory.mktemp("cockpit") / "riskwatch.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with start_stack(url, internal_secret=os.environ["RISKWATCH_INTERNAL_SECRET"]) as stack:
        db = Database(url)
        stack.ensure_admin_key(db)
        with db.transaction() as session:
            _, reader = create_key(session, name="reader", scopes=["alerts:read"])
            _, analyst = create_key(session, name="analyst",
                                    scopes=["alerts:read", "alerts:write"])
        db.dispose()
        portfolio = simulate(SimConfig(customers=CUSTOMERS, months=6, seed=11))
        push_through_api(portfolio, gateway=stack.gateway, api_key=stack.admin_key)
        job = _train_a_candidate(stack)
        _wait_for_scores_and_alerts(stack)
        _wait_for_job(stack, job)
        yield Desk(stack=stack, reader_key=reader, analyst_key=analyst)


def _wait_for_scores_and_alerts(stack: Stack, timeout: float = 180) -> None:
    """Polls until every customer is scored and a few alerts are open. An answer other than
    200 (a busy worker can hold SQLite's write lock) is polled again, and reported if it is
    the last one seen."""
    deadline = time.monotonic() + timeout
    last = "nothing yet"
    with stack.client() as api:
        while time.monotonic() < deadline:
            portfolio = api.get("/v1/reports/portfolio")
            counts = api.get("/v1/alerts/counts")
            if portfolio.status_code == counts.status_code == 200:
                scored = sum(r["customers"] for r in portfolio.json()["rows"]
                             if r["dimension"] == "tier"
                             and r["value"] in ("low", "medium", "high"))
                alerts = counts.json()["total"]
                if scored >= CUSTOMERS and alerts >= 3:
                    return
                last = f"{scored} customers scored, {alerts} alerts"
            else:
                last = (f"portfolio {portfolio.status_code} {portfolio.text[:300]}; "
                        f"counts {counts.status_code} {counts.text[:300]}")
            time.sleep(0.5)
    raise AssertionError(f"the seeded portfolio was not scored and alerted in time: {last}")


def _train_a_candidate(stack: Stack) -> int:
    """A model trained from a labelled file (another book than the desk's customers), left a
    candidate: the models screen then has a calibration to show and nobody is rescored."""
    book = simulate(SimConfig(customers=600, months=12, seed=8,
                              end=dt.datetime.now(dt.UTC).date()))
    with stack.client() as api:
        answer = api.post("/v1/models/train-from-file",
                          files={"file": ("book.csv", labelled_csv(book).encode(),
                                          "text/csv")},
                          data={"outcome": "defaulted", "id_column": "customer_id",
                                "folds": "3", "repeats": "1", "tuning_trials": "2",
                                "tuning_seconds": "2"})
    assert answer.status_code == 202, answer.text
    return int(answer.json()["id"])


def _wait_for_job(stack: Stack, job_id: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    job: dict = {}
    with stack.client() as api:
        while time.monotonic() < deadline:
            answer = api.get(f"/v1/models/jobs/{job_id}")
            if answer.status_code == 200:
                job = answer.json()
                if job["status"] in ("succeeded", "failed"):
                    break
            time.sleep(0.5)
    assert job.get("status") == "succeeded", f"the candidate model was not trained: {job}"


def sign_in(gateway: str, key: str, *, locale: str = "en") -> httpx.Client:
    """A browser-like client (cookies, no key header) signed in through the form."""
    client = httpx.Client(base_url=gateway, timeout=30, follow_redirects=False)
    client.cookies.set("rw_lang", locale, path="/ui")
    form = client.get("/ui/sign-in")
    token = csrf_of(form.text)
    answer = client.post("/ui/sign-in", data={"csrf_token": token, "api_key": key,
                                              "next": "/ui/"})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
