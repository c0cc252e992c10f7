"""Work-queue gauges on reviews' /metrics, read from the database at scrape time.

Here, not in each worker: one scrape target sees every topic, including the one whose
consumer is down or not built, which is exactly when a worker-side gauge would be missing.
Each replica of reviews reports the same figures (aggregate with ``max``). One grouped
query per scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from shared import queue, topics
from shared.db import Database
from shared.models import utcnow

log = logging.getLogger("riskwatch.reviews.queue")


class QueueCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        try:
            with self.db.sessions() as session:
                depth = queue.depth(session)
        except SQLAlchemyError:
            # /metrics keeps answering (request metrics, and the gap shows the outage).
            log.warning("queue metrics: database unavailable", exc_info=True)
            return
        now = utcnow()
        pending = GaugeMetricFamily(
            "riskwatch_queue_pending_items", "Work items waiting or running, per topic",
            labels=["topic"])
        oldest = GaugeMetricFamily(
            "riskwatch_queue_oldest_pending_age_seconds",
            "Age of the oldest pending work item per topic (0 when none)", labels=["topic"])
        dead = GaugeMetricFamily(
            "riskwatch_queue_dead_items", "Dead-lettered work items per topic", labels=["topic"])
        # Every declared topic appears, at 0 when empty, so "no work" differs from "no data".
        names = sorted({*topics.ROUTES, *(d.topic for d in depth)})
        by_key = {(d.topic, d.status): d for d in depth}
        for name in names:
            waiting = by_key.get((name, queue.ItemStatus.PENDING))
            died = by_key.get((name, queue.ItemStatus.DEAD))
            pending.add_metric([name], waiting.count if waiting else 0)
            oldest.add_metric([name], max((now - waiting.oldest_created_at).total_seconds(), 0.0)
                              if waiting else 0.0)
            dead.add_metric([name], died.count if died else 0)
        yield from (pending, oldest, dead)


def install_queue_metrics(app: FastAPI) -> None:
    """Start-up hook: add the queue gauges to the app's registry (needs ``app.state.db``)."""
    app.state.metrics.registry.register(QueueCollector(app.state.db))
