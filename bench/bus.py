"""Message-bus ingest on PostgreSQL: events per second from a RabbitMQ queue and from a NATS
JetStream stream into stored events (the real `riskwatch worker ingest-bus` process), and, in
the same run, the baseline: batch ingest over HTTP through the real gateway
(`POST /v1/events/batch`, 1,000 events per call, 2 connections), the same events.

    .venv/bin/python -m bench.bus [--events 20000] [--prefetch 500] [--batches 20]

The backlog is published first by a publisher in its own process, then the consumer drains it;
the rate counts from the first stored event to the last. Needs RabbitMQ on 127.0.0.1:5672
and NATS (JetStream) on 127.0.0.1:4222 (.ci/run starts them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import bench_stack, closed_loop, fresh_postgres
from bench.ingest import CUSTOMERS, event
from bench.report import record
from tests.stack import ADMIN_KEY, ROOT, free_port

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
NATS_URL = "nats://127.0.0.1:4222"


def publish(broker: str, target: str, source: str, total: int) -> None:
    """The load generator (run in a process of its own): ``total`` structured-mode events."""
    async def rabbitmq() -> None:
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel(publisher_confirms=False)
            await channel.declare_queue(target, durable=True)
            for i in range(total):
                await channel.default_exchange.publish(aio_pika.Message(
                    json.dumps(event(source, i)).encode(),
                    content_type="application/cloudevents+json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=target)
            # A confirmed last message: everything before it is in the queue.
            confirmed = await connection.channel(publisher_confirms=True)
            await confirmed.default_exchange.publish(aio_pika.Message(
                json.dumps(event(source, total)).encode(),
                content_type="application/cloudevents+json"), routing_key=target)

    async def nats_js() -> None:
        import nats

        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        await js.add_stream(name=target, subjects=[f"{target.lower()}.>"])
        pending = []
        for i in range(total + 1):
            pending.append(await js.publish_async(
                f"{target.lower()}.events", json.dumps(event(source, i)).encode()))
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        await js.publish_async_completed()
        await client.close()

    asyncio.run(rabbitmq() if broker == "rabbitmq" else nats_js())


def stored(engine: sa.Engine, source: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM event WHERE source = :s"),
                                {"s": source}).scalar_one())


def drain(url: str, env: dict[str, str], name: str, bus_source: dict[str, Any], source: str,
          total: int) -> tuple[float, float]:
    """Start ingest-bus on a published backlog of ``total`` events: (events/s, CPU ms per
    event of the consumer process)."""
    engine = sa.create_engine(url)
    log = Path(tempfile.mkdtemp(prefix="riskwatch-bench-bus-")) / "ingest-bus.log"
    process_env = {**env, "RISKWATCH_BUS_SOURCES": json.dumps({name: bus_source}),
                   "RISKWATCH_BUS_METRICS_PORT": str(free_port())}
    with log.open("w") as out:
        consumer = subprocess.Popen([sys.executable, "-m", "riskwatch", "worker", "ingest-bus"],
                                    env=process_env, cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
    try:
        first_at, first_count = None, 0
        deadline = time.monotonic() + 600
        while True:
            count = stored(engine, source)
            now = time.perf_counter()
            if first_at is None and count:
                first_at, first_count = now, count
            if count >= total:
                break
            if consumer.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ingest-bus stopped or stalled at {count}; see {log}")
            time.sleep(0.05)
        assert first_at is not None
        rate = (total - first_count) / (now - first_at) if now > first_at else float("nan")
        cpu = _cpu_seconds(consumer.pid) * 1000 / total
        return rate, cpu
    finally:
        consumer.terminate()
        consumer.wait(30)
        engine.dispose()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def publish_in_process(broker: str, target: str, source: str, total: int) -> None:
    process = multiprocessing.get_context("spawn").Process(
        target=publish, args=(broker, target, source, total))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"publishing to {broker} failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--prefetch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    tag = uuid.uuid4().hex[:8]
    queue, stream = f"bench-{tag}", f"BENCH{tag.upper()}"
    with fresh_postgres() as url, bench_stack(url, with_workers=False) as stack:
        customers = [{"customer_id": f"cust-{i:04d}", "name": f"Customer {i}"}
                     for i in range(CUSTOMERS)]
        httpx.post(f"{stack.gateway}/v1/customers/batch", json={"customers": customers},
                   headers=auth, timeout=60).raise_for_status()

        def batch_sender(source: str) -> Any:
            async def send(client: Any, b: int) -> Any:
                body = json.dumps([event(source, b * args.batch_size + i)
                                   for i in range(args.batch_size)])
                return await client.post(
                    "/v1/events/batch", content=body,
                    headers={**auth, "content-type": "application/cloudevents-batch+json"})
            return send

        accepted = lambda r: r.status_code == 202  # noqa: E731
        asyncio.run(closed_loop(concurrency=1, total=2, base_url=stack.gateway, ok=accepted,
                                make_request=batch_sender("warm")))
        batches = asyncio.run(closed_loop(concurrency=2, total=args.batches,
                                          base_url=stack.gateway, ok=accepted,
                                          make_request=batch_sender("http-batch")))

        total = args.events + 1  # the publisher's confirmed last message
        publish_in_process("rabbitmq", queue, "bus-rabbitmq", args.events)
        rabbit_rate, rabbit_cpu = drain(
            url, stack.env, "bench-rabbitmq",
            {"broker": "rabbitmq", "url": AMQP_URL, "queue": queue,
             "prefetch": args.prefetch}, "bus-rabbitmq", total)
        publish_in_process("nats", stream, "bus-nats", args.events)
        nats_rate, nats_cpu = drain(
            url, stack.env, "bench-nats",
            {"broker": "nats", "url": NATS_URL, "stream": stream,
             "subject": f"{stream.lower()}.>", "durable": "bench", "prefetch": args.prefetch},
            "bus-nats", total)
    _cleanup(queue, stream)

    http_rate = batches.rate * args.batch_size
    print(f"load average at the end {os.getloadavg()[0]:.2f}; {args.events:,} events per bus, "
          f"prefetch {args.prefetch}")
    print(batches.line(f"baseline: HTTP batches of {args.batch_size}, 2 connections"))
    print(f"    -> {http_rate:,.0f} events/s")
    print(f"RabbitMQ -> stored events: {rabbit_rate:,.0f} events/s "
          f"({rabbit_rate / http_rate:.0%} of HTTP batch), consumer CPU "
          f"{rabbit_cpu:.2f} ms/event")
    print(f"NATS JetStream -> stored events: {nats_rate:,.0f} events/s "
          f"({nats_rate / http_rate:.0%} of HTTP batch), consumer CPU {nats_cpu:.2f} ms/event")
    http = (f"HTTP batches of {args.batch_size}, 2 connections", http_rate)
    record(f"RabbitMQ backlog -> stored events, prefetch {args.prefetch}", rabbit_rate,
           "events/s", baseline=http)
    record(f"NATS JetStream backlog -> stored events, prefetch {args.prefetch}", nats_rate,
           "events/s", baseline=http)


def _cleanup(queue: str, stream: str) -> None:
    async def run() -> None:
        import aio_pika
        import nats

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in (queue, f"{queue}.dead"):
                await channel.queue_delete(name)
        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        for name in (stream, f"{stream}_DEADLETTER"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
        await client.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
