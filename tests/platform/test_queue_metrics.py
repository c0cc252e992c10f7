"""Queue depth, age of the oldest pending item and dead letters per topic, as Prometheus
gauges on reviews' /metrics, read from the database at scrape time."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from services.reviews.app import create_app
from shared import queue
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.topics import ALERTS_EVENT, SCORING_JOB, SCORING_RESCORE


def _gauges(client: TestClient) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, sample.labels["topic"]): sample.value
            for family in text_string_to_metric_families(response.text)
            if family.name.startswith("riskwatch_queue_")
            for sample in family.samples}


def test_queue_gauges_show_depth_oldest_age_and_dead_letters_per_topic(
        db: Database, database_url: str) -> None:
    with db.transaction() as session:
        for key in ("c1", "c2"):
            queue.enqueue(session, topic=SCORING_RESCORE, key=key, coalesce=True)
        queue.enqueue(session, topic=SCORING_JOB, key="7")
        queue.enqueue(session, topic="ops.adhoc", key="x")
    with db.transaction() as session:
        session.execute(update(WorkItem).where(WorkItem.key == "c1")
                        .values(created_at=utcnow() - dt.timedelta(seconds=120)))
        session.execute(update(WorkItem).where(WorkItem.topic == SCORING_JOB)
                        .values(status=queue.ItemStatus.DEAD))
    with TestClient(create_app(database_url)) as client:
        gauges = _gauges(client)
        assert gauges[("riskwatch_queue_pending_items", SCORING_RESCORE)] == 2
        assert 120 <= gauges[("riskwatch_queue_oldest_pending_age_seconds",
                              SCORING_RESCORE)] < 180
        assert gauges[("riskwatch_queue_dead_items", SCORING_RESCORE)] == 0
        assert gauges[("riskwatch_queue_pending_items", SCORING_JOB)] == 0
        assert gauges[("riskwatch_queue_dead_items", SCORING_JOB)] == 1
        # A declared topic with nothing in it reports 0 rather than vanishing; an undeclared
        # one that has work still shows.
        assert gauges[("riskwatch_queue_pending_items", ALERTS_EVENT)] == 0
        assert gauges[("riskwatch_queue_oldest_pending_age_seconds", ALERTS_EVENT)] == 0
        assert gauges[("riskwatch_queue_pending_items", "ops.adhoc")] == 1
        # Read at scrape time: the next scrape sees the queue as it is then.
        with db.transaction() as session:
            session.execute(update(WorkItem).where(WorkItem.key == "c2")
                            .values(status=queue.ItemStatus.DEAD))
        gauges = _gauges(client)
        assert gauges[("riskwatch_queue_pending_items", SCORING_RESCORE)] == 1
        assert gauges[("riskwatch_queue_dead_items", SCORING_RESCORE)] == 1
