"""A review page reads open alerts from the shared schema once the alerts tables exist
(they are built in parallel): an alert table of the contract's shape is read as it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from services.reviews.portfolio import open_alerts
from shared.db import Database
from tests.reviews.factories import customer


@pytest.fixture
def alert_table(db: Database) -> Iterator[sa.Table]:
    metadata = sa.MetaData()
    # Its own name: the real alert table is part of the schema and must stay untouched.
    table = sa.Table("review_test_alert", metadata,
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("customer_id", sa.String(128)),
                     sa.Column("severity", sa.String(16)),
                     sa.Column("status", sa.String(16)),
                     sa.Column("title", sa.String(200)),
                     sa.Column("opened_at", sa.DateTime(timezone=True)),
                     sa.Column("internal_note", sa.Text))
    metadata.create_all(db.engine)
    try:
        yield table
    finally:
        metadata.drop_all(db.engine)


def test_open_alerts_are_read_from_the_alert_table_when_it_exists(
        db: Database, alert_table: sa.Table) -> None:
    customer(db, "c-1")
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with db.transaction() as session:
        session.execute(sa.insert(alert_table), [
            {"id": 1, "customer_id": "c-1", "severity": "critical", "status": "open",
             "title": "Days past due 75 >= 60", "opened_at": at, "internal_note": "x"},
            {"id": 2, "customer_id": "c-1", "severity": "info", "status": "resolved",
             "title": "old", "opened_at": at, "internal_note": "x"},
            {"id": 3, "customer_id": "c-2", "severity": "warning", "status": "open",
             "title": "someone else", "opened_at": at, "internal_note": "x"}])
        alerts = open_alerts(session, "c-1", tables={"alert": alert_table})
        assert open_alerts(session, "c-1") == []  # the real alert table has none for c-1
    assert [(a["id"], a["severity"], a["title"]) for a in alerts] == [
        (1, "critical", "Days past due 75 >= 60")]
    assert "internal_note" not in alerts[0]
