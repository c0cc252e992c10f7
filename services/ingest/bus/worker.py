"""The ``ingest-bus`` process: one consumer (own connection) per configured source, or only
``RISKWATCH_BUS_ONLY`` so each source can run as a process of its own; Prometheus metrics
on ``RISKWATCH_BUS_METRICS_PORT``. Stopped by SIGTERM / SIGINT after the batch in hand."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType

from prometheus_client import start_http_server

from services.ingest.bus.consumer import BusConsumer, BusMetrics
from services.ingest.bus.settings import BusSettings, BusSource, get_bus_settings
from shared.db import Database
from shared.settings import get_settings

log = logging.getLogger("riskwatch.ingest.bus")
CONSUMERS: dict[str, str] = {
    "rabbitmq": "services.ingest.bus.rabbitmq:RabbitMQConsumer",
    "nats": "services.ingest.bus.jetstream:JetStreamConsumer",
}


def consumer_for(name: str, source: BusSource, *, db: Database, metrics: BusMetrics,
                 settings: BusSettings) -> BusConsumer:
    """The broker's consumer class (imported only for brokers that are configured)."""
    from riskwatch.processes import load

    consumer: BusConsumer = load(CONSUMERS[source.broker])(
        name, source, db=db, metrics=metrics, settings=settings)
    return consumer


class BusWorker:
    def __init__(self, db: Database, settings: BusSettings | None = None,
                 metrics: BusMetrics | None = None) -> None:
        self.db = db
        self.settings = settings or get_bus_settings()
        self.metrics = metrics or BusMetrics()
        sources = self.settings.sources
        if self.settings.only is not None:
            if self.settings.only not in sources:
                raise ValueError(f"RISKWATCH_BUS_ONLY names {self.settings.only!r}, which is "
                                 "not in RISKWATCH_BUS_SOURCES")
            sources = {self.settings.only: sources[self.settings.only]}
        self.sources = sources
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.consumers: list[BusConsumer] = []

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop.is_set():
            return
        self.consumers = consumers = [consumer_for(name, source, db=self.db, metrics=self.metrics,
                                  settings=self.settings)
                     for name, source in sorted(self.sources.items())]
        if not consumers:
            log.info("no message-bus source configured (RISKWATCH_BUS_SOURCES); idle")
        await asyncio.gather(self._stopping.wait(),
                             *(c.run(self._stopping) for c in consumers))

    def stop(self) -> None:
        self._stop.set()
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def run_forever(self) -> None:
        # Served only where there is something to count (stacks without sources share hosts).
        if self.settings.metrics_port and self.sources:
            start_http_server(self.settings.metrics_port, addr=get_settings().host,
                              registry=self.metrics.registry)
        asyncio.run(self.run())

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("ingest-bus stopping (signal %s)", signum)
            self.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


def build_bus_worker(db: Database) -> BusWorker:
    return BusWorker(db)
