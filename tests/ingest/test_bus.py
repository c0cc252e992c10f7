"""CloudEvents from RabbitMQ and NATS JetStream land through the events service: stored once,
acknowledged after the commit, malformed and invalid messages dead-lettered with the reason,
and a lost connection or a restarted server loses and doubles nothing. Against the real
brokers of the development and CI machines (127.0.0.1:5672 and :4222), a private
nats-server for the restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import nats
import pytest
import sqlalchemy as sa

from services.ingest.bus.consumer import BusMetrics
from services.ingest.bus.settings import BusSettings, BusSource
from services.ingest.bus.worker import BusWorker
from shared.db import Database
from shared.models import Event, WorkItem
from shared.topics import ALERTS_EVENT

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
NATS_URL = "nats://127.0.0.1:4222"


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _require(port: int, name: str) -> None:
    if not _reachable(port):
        message = f"{name} is not reachable on 127.0.0.1:{port} (.ci/run starts it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def event(source: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"e-{n}", "source": source, "type": "payment.received",
            "subject": f"cust-{n % 7}", "time": "2026-11-01T10:00:00Z",
            "data": {"amount": "10.50", "currency": "EUR", "invoice_id": f"inv-{n}"}, **extra}


def stored(db: Database, source: str) -> int:
    with db.transaction() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Event)
                              .where(Event.source == source)) or 0


def alerts_work(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(WorkItem)
                              .where(WorkItem.topic == ALERTS_EVENT)) or 0


def metric(metrics: BusMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def consume_until(worker: BusWorker, done: Callable[[], bool], *, timeout: float = 30,
                        during: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run the worker until ``done()`` (read from a thread: it queries the database)."""
    task = asyncio.create_task(worker.run())
    try:
        if during is not None:
            await during()
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "the consumer did not finish in time"
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


def bus_worker(db: Database, name: str, source: BusSource) -> BusWorker:
    settings = BusSettings(sources={name: source}, metrics_port=0, batch_wait_ms=5,
                           lag_interval_seconds=0.1, reconnect_max_seconds=0.5)
    return BusWorker(db, settings=settings, metrics=BusMetrics())


# RabbitMQ -------------------------------------------------------------------------------

async def amqp_publish(queue: str, messages: list[aio_pika.Message]) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for message in messages:
            await channel.default_exchange.publish(message, routing_key=queue)


def structured(body: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(json.dumps(body).encode(),
                            content_type="application/cloudevents+json")


async def amqp_drain(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(AMQP_URL)
    found = []
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, durable=True)
        while (message := await q.get(fail=False)) is not None:
            await message.ack()
            found.append(message)
        await q.delete(if_unused=False, if_empty=False)
    return found


async def amqp_ready(queue: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)


def test_rabbitmq_structured_and_binary_events_are_stored_once_and_bad_ones_dead_lettered(
        db: Database) -> None:
    _require(5672, "RabbitMQ")
    queue, source = f"rw-test-{uuid.uuid4().hex[:8]}", f"erp-{uuid.uuid4().hex[:6]}"
    binary_headers = {"cloudEvents_specversion": "1.0", "cloudEvents_id": "bin-1",
                      "cloudEvents_source": source, "cloudEvents_type": "payment.received",
                      "cloudEvents_subject": "cust-9", "cloudEvents_time": "2026-11-01T10:00:00Z"}
    colon_headers = {k.replace("cloudEvents_", "cloudEvents:"): v
                     for k, v in binary_headers.items()} | {"cloudEvents:id": "bin-2"}
    data = json.dumps({"amount": "99", "currency": "EUR", "invoice_id": "inv-b"}).encode()
    messages = [
        structured(event(source, 1)),
        structured(event(source, 1)),  # the same (source, id): stored once
        aio_pika.Message(data, content_type="application/json", headers=binary_headers),
        aio_pika.Message(data, content_type="application/json", headers=colon_headers),
        aio_pika.Message(b"hello", content_type="text/plain"),  # not a CloudEvent
        structured({**event(source, 2), "subject": None}),  # a CloudEvent that does not validate
    ]
    worker = bus_worker(db, "erp", BusSource(broker="rabbitmq", url=AMQP_URL, queue=queue,
                                             prefetch=10))
    metrics = worker.metrics

    async def scenario() -> list[Any]:
        await amqp_publish(queue, messages)
        await consume_until(worker, lambda: metric(
            metrics, "riskwatch_bus_messages_rejected_total", source="erp",
            reason="invalid") == 1 and stored(db, source) == 3)
        assert await amqp_ready(queue) == 0  # everything acknowledged
        await amqp_drain(queue)
        return await amqp_drain(f"{queue}.dead")

    dead = asyncio.run(scenario())
    with db.transaction() as session:
        ids = set(session.scalars(sa.select(Event.event_id).where(Event.source == source)))
        pair = session.execute(sa.select(Event.customer_id, Event.amount)
                               .where(Event.event_id == "bin-1")).one()
    assert ids == {"e-1", "bin-1", "bin-2"}
    assert pair.customer_id == "cust-9" and float(pair.amount) == 99
    assert alerts_work(db) == 3  # work enqueued once per stored event
    reasons = sorted(m.headers["x-riskwatch-reason"] for m in dead)
    assert reasons[0].startswith("invalid: subject")
    assert reasons[1].startswith("malformed: not a CloudEvent")
    assert {m.body for m in dead} == {b"hello", messages[5].body}
    assert metric(metrics, "riskwatch_bus_messages_consumed_total", source="erp",
                  outcome="accepted") == 3
    assert metric(metrics, "riskwatch_bus_messages_consumed_total", source="erp",
                  outcome="duplicate") == 1
    assert metric(metrics, "riskwatch_bus_lag_messages", source="erp") == 0
    assert metric(metrics, "riskwatch_bus_reconnects_total", source="erp") == 0


def test_rabbitmq_messages_stay_queued_while_the_database_refuses_them(
        db: Database, tmp_path: Path) -> None:
    _require(5672, "RabbitMQ")
    queue, source = f"rw-test-{uuid.uuid4().hex[:8]}", f"erp-{uuid.uuid4().hex[:6]}"
    bus = BusSource(broker="rabbitmq", url=AMQP_URL, queue=queue, prefetch=10)
    # A database that cannot be opened: every store fails, so nothing may be acknowledged.
    broken = Database(f"sqlite:///{tmp_path}/missing/dir/riskwatch.db")
    failing = bus_worker(broken, "down", bus)

    async def scenario() -> None:
        await amqp_publish(queue, [structured(event(source, n)) for n in range(5)])
        await consume_until(failing, lambda: metric(
            failing.metrics, "riskwatch_bus_reconnects_total", source="down") >= 2)
        assert await amqp_ready(queue) == 5  # released, not acked
        await consume_until(bus_worker(db, "up", bus), lambda: stored(db, source) == 5)
        assert await amqp_ready(queue) == 0
        await amqp_drain(queue)
        await amqp_drain(f"{queue}.dead")

    asyncio.run(scenario())
    broken.dispose()
    assert metric(failing.metrics, "riskwatch_bus_messages_consumed_total", source="down",
                  outcome="accepted") == 0
    assert alerts_work(db) == 5


def _close_connection(name: str) -> None:
    """Close one connection from the broker's side (only ours: the broker is shared)."""
    listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "--no-table-headers",
                              "pid", "client_properties"],
                             capture_output=True, text=True, check=True)
    names = [line.split("\t")[0] for line in listing.stdout.splitlines()
             if f'"{name}"' in line]
    assert names, f"connection {name} not found"
    for connection in names:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", connection, "test"],
                       capture_output=True, check=True)


def test_rabbitmq_connection_closed_by_the_broker_mid_stream_loses_and_doubles_nothing(
        db: Database) -> None:
    _require(5672, "RabbitMQ")
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    queue, source = f"rw-test-{uuid.uuid4().hex[:8]}", f"erp-{uuid.uuid4().hex[:6]}"
    name = f"restart-{uuid.uuid4().hex[:6]}"
    worker = bus_worker(db, name, BusSource(broker="rabbitmq", url=AMQP_URL, queue=queue,
                                            prefetch=25))
    total = 600

    async def during() -> None:
        await amqp_publish(queue, [structured(event(source, n)) for n in range(total // 2)])
        while await asyncio.to_thread(stored, db, source) < 50:
            await asyncio.sleep(0.01)
        # The broker closes the consumer's connection while it holds unacked messages.
        await asyncio.to_thread(_close_connection, f"riskwatch-ingest-bus/{name}")
        await amqp_publish(queue, [structured(event(source, n))
                                   for n in range(total // 2, total)])

    async def scenario() -> None:
        await consume_until(worker, lambda: stored(db, source) == total, during=during)
        assert await amqp_ready(queue) == 0
        await amqp_drain(queue)
        await amqp_drain(f"{queue}.dead")

    asyncio.run(scenario())
    assert stored(db, source) == total
    assert alerts_work(db) == total  # no event enqueued twice
    assert metric(worker.metrics, "riskwatch_bus_reconnects_total", source=name) >= 1


# NATS JetStream ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def nats_publish(url: str, subject: str, items: list[tuple[bytes, dict[str, str] | None]]
                       ) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    for body, headers in items:
        await js.publish(subject, body, headers=headers)
    await client.close()


async def nats_drain(url: str, stream: str, subject: str) -> list[Any]:
    """The dead letters of ``stream`` (then both streams are deleted)."""
    client = await nats.connect(url)
    js = client.jetstream()
    sub = await js.pull_subscribe(subject, stream=f"{stream}_DEADLETTER")
    found = []
    try:
        while True:
            batch = await sub.fetch(100, timeout=0.5)
            found.extend(batch)
            for message in batch:
                await message.ack()
    except TimeoutError:  # nats.errors.TimeoutError is one
        pass
    for name in (stream, f"{stream}_DEADLETTER"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)
    await client.close()
    return found


def test_nats_structured_and_binary_events_are_stored_once_and_bad_ones_dead_lettered(
        db: Database) -> None:
    _require(4222, "NATS")
    tag = uuid.uuid4().hex[:8]
    stream, subject, source = f"RWTEST{tag}", f"rwtest.{tag}.>", f"crm-{tag}"
    data = json.dumps({"amount": "5", "currency": "EUR", "invoice_id": "inv-n"}).encode()
    binary = {"ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": source,
              "ce-type": "payment.received", "ce-subject": "cust-3",
              "Content-Type": "application/json"}
    items = [
        (json.dumps(event(source, 1)).encode(), None),
        (json.dumps(event(source, 1)).encode(), None),
        (data, binary),
        (b"{not json", None),
        (json.dumps({**event(source, 2), "specversion": "0.3"}).encode(), None),
    ]
    worker = bus_worker(db, "crm", BusSource(broker="nats", url=NATS_URL, stream=stream,
                                             subject=subject, durable=f"rw-{tag}",
                                             prefetch=10))
    metrics = worker.metrics

    async def scenario() -> list[Any]:
        await nats_publish(NATS_URL, f"rwtest.{tag}.invoices", items)
        await consume_until(worker, lambda: metric(
            metrics, "riskwatch_bus_messages_rejected_total", source="crm",
            reason="invalid") == 1 and stored(db, source) == 2)
        client = await nats.connect(NATS_URL)
        info = await client.jetstream().consumer_info(stream, f"rw-{tag}")
        await client.close()
        assert info.num_pending == 0 and info.num_ack_pending == 0
        return await nats_drain(NATS_URL, stream, f"deadletter.{stream}")

    # The stream is created by the consumer on first connect; publish after it exists.
    async def create_then_run() -> list[Any]:
        client = await nats.connect(NATS_URL)
        await client.jetstream().add_stream(name=stream, subjects=[subject])
        await client.close()
        return await scenario()

    dead = asyncio.run(create_then_run())
    with db.transaction() as session:
        ids = set(session.scalars(sa.select(Event.event_id).where(Event.source == source)))
    assert ids == {"e-1", "bin-1"}
    assert alerts_work(db) == 2
    reasons = sorted(m.headers["Riskwatch-Reason"] for m in dead)
    assert reasons[0].startswith("invalid: specversion") and \
        reasons[1].startswith("malformed: the structured-mode body is not JSON")
    assert metric(metrics, "riskwatch_bus_messages_consumed_total", source="crm",
                  outcome="duplicate") == 1
    assert metric(metrics, "riskwatch_bus_lag_messages", source="crm") == 0
    assert metric(metrics, "riskwatch_bus_reconnects_total", source="crm") == 0


class PrivateNats:
    """A nats-server of this test's own (port, store directory), restartable at will."""

    def __init__(self, store: Path) -> None:
        self.port, self.store = free_port(), store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", str(self.store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _reachable(self.port):
            assert time.monotonic() < deadline, "private nats-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def test_nats_server_restart_mid_stream_loses_and_doubles_nothing(
        db: Database, tmp_path: Path) -> None:
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not installed")
    server = PrivateNats(tmp_path / "jetstream")
    server.start()
    source, total = f"crm-{uuid.uuid4().hex[:6]}", 600
    worker = bus_worker(db, "restart", BusSource(
        broker="nats", url=server.url, stream="EVENTS", subject="events.>", prefetch=25,
        ack_wait_seconds=2))

    async def during() -> None:
        await asyncio.wait_for(worker_connected(worker), 10)
        await nats_publish(server.url, "events.orders", [
            (json.dumps(event(source, n)).encode(), None) for n in range(total // 2)])
        while await asyncio.to_thread(stored, db, source) < 50:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)
        await nats_publish(server.url, "events.orders", [
            (json.dumps(event(source, n)).encode(), None) for n in range(total // 2, total)])

    try:
        asyncio.run(consume_until(worker, lambda: stored(db, source) == total, during=during,
                                  timeout=40))
    finally:
        server.stop()
    assert stored(db, source) == total
    assert alerts_work(db) == total


async def worker_connected(worker: BusWorker) -> None:
    while True:
        consumers = getattr(worker, "consumers", [])
        if consumers and all(c.connected.is_set() for c in consumers):
            return
        await asyncio.sleep(0.02)
