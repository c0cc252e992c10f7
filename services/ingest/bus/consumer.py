"""The broker-independent half of the message-bus consumer: fetch a batch, read each message
through its CloudEvents binding, store the events through the events service in one
transaction (the same validation, de-duplication and work enqueueing as ``POST /v1/events``),
and only then acknowledge; a message that is not a valid CloudEvent goes to the dead letters
with the reason. A broker is one subclass of :class:`BusConsumer` (RabbitMQ, NATS JetStream;
Kafka would be one more)."""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.ingest.bus.bindings import MessageMalformed
from services.ingest.bus.settings import BusSettings, BusSource
from services.ingest.events.service import EventOutcome, ingest_events
from shared.db import Database

log = logging.getLogger("riskwatch.ingest.bus")
REASON_LIMIT = 2000  # characters of the reason sent with a dead letter


@dataclass
class BusMessage:
    """A delivered message: what the binding reads, and the broker's own handle to ack it."""

    body: bytes
    content_type: str | None
    headers: dict[str, Any]
    handle: Any


class BusMetrics:
    """Prometheus series of every source of one process (label ``source``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.consumed = Counter(
            "riskwatch_bus_messages_consumed_total", "messages stored and acknowledged, by "
            "outcome (accepted: a new event; duplicate: stored before)",
            ["source", "outcome"], registry=self.registry)
        self.rejected = Counter(
            "riskwatch_bus_messages_rejected_total", "messages sent to the dead letters, by "
            "reason (malformed: not a CloudEvent; invalid: an event that did not validate)",
            ["source", "reason"], registry=self.registry)
        self.lag = Gauge(
            "riskwatch_bus_lag_messages", "messages waiting in the queue or stream consumer, "
            "not yet delivered to riskwatch", ["source"], registry=self.registry)
        self.reconnects = Counter(
            "riskwatch_bus_reconnects_total", "connections lost or refused and tried again",
            ["source"], registry=self.registry)


def store_events(db: Database, events: Sequence[Any]) -> list[EventOutcome]:
    """One transaction for the batch, committed before the caller acknowledges anything."""
    with db.transaction() as session:
        return ingest_events(session, items=list(events), field_prefix=False)


def reason_text(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)


class BusConsumer(abc.ABC):
    """Consume one configured source until ``stopping`` is set, reconnecting with backoff."""

    broker: ClassVar[str]

    def __init__(self, name: str, source: BusSource, *, db: Database, metrics: BusMetrics,
                 settings: BusSettings) -> None:
        self.name = name
        self.source = source
        self.db = db
        self.metrics = metrics
        self.settings = settings
        self.connected = asyncio.Event()

    # What a broker class provides.
    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect, declare what is missing (queue / stream, dead letters), start consuming."""

    @abc.abstractmethod
    async def fetch(self, limit: int, idle_seconds: float) -> list[BusMessage]:
        """Up to ``limit`` messages, [] after ``idle_seconds`` without any; raises when the
        connection is lost."""

    @abc.abstractmethod
    def decode(self, message: BusMessage) -> dict[str, Any]:
        """The CloudEvent through the broker's binding (raises MessageMalformed)."""

    @abc.abstractmethod
    async def ack(self, messages: Sequence[BusMessage]) -> None: ...

    @abc.abstractmethod
    async def dead_letter(self, message: BusMessage, reason: str) -> None:
        """Publish the message with its reason to the dead letters (confirmed), then ack."""

    @abc.abstractmethod
    async def release(self, messages: Sequence[BusMessage]) -> None:
        """Give messages back for redelivery (the store failed)."""

    @abc.abstractmethod
    async def backlog(self) -> int | None:
        """Messages waiting to be delivered, or None when the broker cannot say now."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # The loop every broker shares.
    async def run(self, stopping: asyncio.Event) -> None:
        delay = 0.25
        while not stopping.is_set():
            try:
                await self.connect()
                self.connected.set()
                log.info("bus source connected", extra={"fields": {
                    "source": self.name, "broker": self.broker}})
                delay = 0.25
                await self._consume(stopping)
            except Exception as exc:  # noqa: BLE001 - broker or database away: retry
                if stopping.is_set():
                    break
                self.metrics.reconnects.labels(self.name).inc()
                log.warning("bus source %s: %s; reconnecting in %.1fs", self.name,
                            f"{type(exc).__name__}: {exc}", delay,
                            extra={"fields": {"source": self.name}})
            finally:
                self.connected.clear()
                with suppress(Exception):
                    await self.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(delay * 2, self.settings.reconnect_max_seconds)

    async def _consume(self, stopping: asyncio.Event) -> None:
        # Two batches in flight: the next one is fetched and read while the previous one is
        # stored (the database work runs in a thread); they are stored and acked in order.
        limit = max(1, self.source.prefetch // 2)
        next_lag = 0.0
        storing: asyncio.Task[None] | None = None
        try:
            while not stopping.is_set():
                messages = await self.fetch(limit, idle_seconds=0.5)
                if storing is not None:
                    await storing
                    storing = None
                if messages:
                    storing = asyncio.create_task(self.handle(messages))
                if time.monotonic() >= next_lag:
                    backlog = await self.backlog()
                    if backlog is not None:
                        self.metrics.lag.labels(self.name).set(backlog)
                    next_lag = time.monotonic() + self.settings.lag_interval_seconds
        finally:
            if storing is not None:
                await storing  # what was fetched is stored and acked before leaving

    async def handle(self, messages: Sequence[BusMessage]) -> None:
        """Store a batch, then ack it; malformed and invalid messages to the dead letters."""
        readable: list[tuple[BusMessage, dict[str, Any]]] = []
        for message in messages:
            try:
                readable.append((message, self.decode(message)))
            except MessageMalformed as exc:
                await self._reject(message, "malformed", str(exc))
        if not readable:
            return
        try:
            outcomes = await asyncio.to_thread(store_events, self.db,
                                               [event for _, event in readable])
        except Exception:
            # Nothing was committed: the broker delivers them again after we reconnect.
            with suppress(Exception):
                await self.release([message for message, _ in readable])
            raise
        stored = []
        for (message, _), outcome in zip(readable, outcomes, strict=True):
            if outcome.status == "rejected":
                await self._reject(message, "invalid", reason_text(outcome.errors))
            else:
                stored.append(message)
                self.metrics.consumed.labels(self.name, outcome.status).inc()
        if stored:
            await self.ack(stored)

    async def _reject(self, message: BusMessage, kind: str, reason: str) -> None:
        log.warning("bus message dead-lettered", extra={"fields": {
            "source": self.name, "kind": kind, "reason": reason[:500]}})
        await self.dead_letter(message, f"{kind}: {reason}"[:REASON_LIMIT])
        self.metrics.rejected.labels(self.name, kind).inc()


def header_safe(text: str) -> str:
    """A reason fit for a header value (no line breaks)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]
