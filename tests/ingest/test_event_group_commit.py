"""Single events that arrive together are stored in one transaction (shared/group_commit.py),
and each request is still answered as if it had been alone: accepted, duplicate, invalid, or
refused by the database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from services.ingest.app import create_app
from shared.db import Database
from tests.conftest import auth_headers
from tests.held_writes import transactions_of, wait_until_blocked, writes_held
from tests.ingest.conftest import ingest_test_settings
from tests.ingest.factories import cloudevent

CE = {"content-type": "application/cloudevents+json"}
SOURCE = "erp/together"


def _post(client: TestClient, body: Any) -> Any:
    return client.post("/v1/events", content=json.dumps(body), headers=CE)


def test_events_sent_together_share_a_commit_and_keep_their_own_answers(
        client: TestClient, db: Database, engine_name: str, database_url: str) -> None:
    first = cloudevent(source=SOURCE)
    distinct = [cloudevent(source=SOURCE, subject=f"cust-{i}") for i in range(6)]
    twice = cloudevent(source=SOURCE, subject="cust-twice")
    invalid = cloudevent(source=SOURCE, time="yesterday")
    with ThreadPoolExecutor(12) as pool:
        with writes_held(db, engine_name, database_url, table="event"):
            held = pool.submit(_post, client, first)
            wait_until_blocked(db, engine_name)
            together: dict[str, Future[Any]] = {
                **{e["id"]: pool.submit(_post, client, e) for e in distinct},
                "twice-1": pool.submit(_post, client, twice),
                "twice-2": pool.submit(_post, client, twice),
                "invalid": pool.submit(_post, client, invalid)}
            time.sleep(0.5)  # all of them queued behind the held write
        answers = {name: future.result(timeout=30) for name, future in together.items()}
        assert held.result(timeout=30).status_code == 202
    for event in distinct:
        response = answers[event["id"]]
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["id"], body["customer_id"], body["index"]) == (
            event["id"], event["subject"], 0)
    assert sorted(answers[k].status_code for k in ("twice-1", "twice-2")) == [200, 202]
    assert {answers[k].json()["status"] for k in ("twice-1", "twice-2")} == {
        "accepted", "duplicate"}
    assert answers["invalid"].status_code == 422
    assert [e["field"] for e in answers["invalid"].json()["errors"]] == ["time"]
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM event WHERE source = :s"),
                              {"s": SOURCE}).scalar()
    assert stored == 1 + len(distinct) + 1
    metrics = client.get("/metrics").text
    label = '{service="ingest",writes="events"}'
    assert f"riskwatch_group_commit_items_sum{label} 10.0" in metrics  # every request's event
    if engine_name == "postgresql":
        # The held event alone, then everything that queued behind it in one transaction.
        assert transactions_of(db, table="event", where="source = :s", s=SOURCE) == 2
        assert f"riskwatch_group_commit_items_count{label} 2.0" in metrics


@pytest.fixture
def refused_event_id(db: Database, engine_name: str) -> Iterator[str]:
    """PostgreSQL refuses to store the event with this id (a trigger), as it would refuse
    a row its constraints do not allow."""
    if engine_name != "postgresql":
        pytest.skip("a refusing trigger is set up on PostgreSQL")
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.event_id = 'refused' THEN RAISE EXCEPTION 'refused event'; END IF; "
            "RETURN NEW; END $$"))
        conn.execute(sa.text("CREATE TRIGGER refuse_event BEFORE INSERT ON event "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_event()"))
    try:
        yield "refused"
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER refuse_event ON event"))
            conn.execute(sa.text("DROP FUNCTION refuse_event()"))


@pytest.fixture
def answering_client(db: Database, database_url: str) -> Iterator[TestClient]:
    """The ingest app answering a server error as a client sees it (500, problem details)."""
    app = create_app(database_url, settings=ingest_test_settings())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers.update(auth_headers("ingest:write"))
        yield test_client


def test_an_event_the_database_refuses_fails_only_its_own_request(
        answering_client: TestClient, db: Database, engine_name: str, database_url: str,
        refused_event_id: str) -> None:
    client = answering_client
    others = [cloudevent(source=SOURCE, subject=f"cust-{i}") for i in range(4)]
    refused = cloudevent(source=SOURCE, id=refused_event_id)
    with ThreadPoolExecutor(8) as pool:
        with writes_held(db, engine_name, database_url, table="event"):
            held = pool.submit(_post, client, cloudevent(source=SOURCE))
            wait_until_blocked(db, engine_name)
            futures = [pool.submit(_post, client, e) for e in [*others[:2], refused,
                                                               *others[2:]]]
            time.sleep(0.5)
        answers = [future.result(timeout=30) for future in futures]
        assert held.result(timeout=30).status_code == 202
    assert [a.status_code for a in answers] == [202, 202, 500, 202, 202]
    assert answers[2].headers["content-type"].startswith("application/problem+json")
    with db.engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT event_id FROM event WHERE source = :s"),
                               {"s": SOURCE}).scalars())
    assert refused_event_id not in ids and {e["id"] for e in others} <= ids
