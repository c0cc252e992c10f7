"""Ingest throughput on PostgreSQL, through the real gateway:
(a) single events, 32 concurrent connections: events/s, p50, p99;
(b) batches of 1,000 events: events/s;
and, in the same run, the baseline: COPY of the same rows into the same table from Python.

    .venv/bin/python bench/ingest.py [--singles 4000] [--batches 30] [--batch-concurrency 2]

Loopback only, bounded loops. The stack runs without workers, so the figures are ingest's
own (the work items it enqueues wait in the queue).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import LoadResult, bench_stack, closed_loop, fresh_postgres
from bench.report import record
from tests.stack import ADMIN_KEY

CUSTOMERS = 1000
COPY_COLUMNS = ("source", "event_id", "type", "customer_id", "occurred_at", "received_at",
                "data", "attributes", "amount", "currency", "ref_id", "due_on", "value",
                "counterparty")


def event(source: str, i: int) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": f"{source}-{i}", "source": source,
        "type": "invoice.issued", "subject": f"cust-{i % CUSTOMERS:04d}",
        "time": "2026-11-01T10:00:00Z", "datacontenttype": "application/json",
        "data": {"invoice_id": f"INV-{i}", "amount": "1250.00", "currency": "EUR",
                 "due_date": "2026-12-01"},
    }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response (Content-Length or chunked body): its status code and
    whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() != "close"


async def raw_closed_loop(*, url: str, path: str, headers: dict[str, str], concurrency: int,
                          total: int, body_for: Any, ok_status: int) -> LoadResult:
    """Like bench.common.closed_loop, over bare keep-alive sockets: a full HTTP client costs
    more CPU per request than the services under test, and this machine has two cores."""
    host, port = url.removeprefix("http://").split(":")
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    async def runner() -> None:
        nonlocal errors
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for i in counter:
            body = body_for(i)
            request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{fixed}"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, int(port))
                reader, writer = connection
                writer.write(request)
                status, keep_alive = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                status, keep_alive = 0, False
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status != ok_status:
                errors += 1
            if not keep_alive and connection is not None:
                connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    if errors:
        print(f"    statuses: {statuses} (0 = connection dropped)")
    return LoadResult(total, errors, time.perf_counter() - started, latencies)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int) -> float:
    """CPU of a process and its children (uvicorn's workers when WEB_CONCURRENCY > 1)."""
    total = _cpu_seconds(root)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == root:
                total += _cpu_seconds(int(entry))
    return total


def cpu_snapshot(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by the gateway, ingest, the PostgreSQL backends serving the
    bench database (pooled, so they live through a phase) and this load generator."""
    database = stack.database_url.rsplit("/", 1)[1]
    postgres = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {database} " in title:
                postgres += _cpu_seconds(int(entry))
    return {"gateway": _tree_cpu_seconds(stack.processes["gateway"].pid),
            "ingest": _tree_cpu_seconds(stack.processes["ingest"].pid),
            "postgres": postgres, "loadgen": _cpu_seconds(os.getpid())}


def cpu_line(before: dict[str, float], after: dict[str, float], requests: int) -> str:
    return "    CPU ms per request: " + ", ".join(
        f"{name} {(after[name] - before[name]) * 1000 / requests:.2f}" for name in before)


def copy_row(source: str, i: int) -> tuple[Any, ...]:
    """The row ingest stores for ``event(source, i)`` (same columns, same values)."""
    e = event(source, i)
    now = dt.datetime.now(dt.UTC)
    return (e["source"], e["id"], e["type"], e["subject"], "2026-11-01T10:00:00+00:00", now,
            json.dumps(e["data"]), json.dumps({"specversion": "1.0",
                                               "datacontenttype": "application/json"}),
            "1250.00", "EUR", e["data"]["invoice_id"], "2026-12-01", None, None)


def copy_baseline(url: str, *, batches: int, size: int) -> float:
    """events/s for COPY of ``batches`` x ``size`` rows, one COPY and commit per batch."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    for attempt in range(20):  # the server may be at max_connections for a moment
        try:
            conn = psycopg.connect(dsn)
            break
        except psycopg.OperationalError:
            if attempt == 19:
                raise
            time.sleep(1)
    with conn:
        started = time.perf_counter()
        for b in range(batches):
            with conn.cursor() as cur, cur.copy(
                    f"COPY event ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for i in range(b * size, (b + 1) * size):
                    copy.write_row(copy_row("copy-baseline", i))
            conn.commit()
        return batches * size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--singles", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-concurrency", type=int, default=2)
    parser.add_argument("--processes", type=int, default=1,
                        help="uvicorn worker processes per service (WEB_CONCURRENCY)")
    args = parser.parse_args()
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    extra_env = {"WEB_CONCURRENCY": str(args.processes)} if args.processes > 1 else {}
    with fresh_postgres() as url, bench_stack(url, with_workers=False,
                                              extra_env=extra_env) as stack:
        # Customers exist up front, as in steady state (and for the COPY baseline's FK).
        customers = [{"customer_id": f"cust-{i:04d}", "name": f"Customer {i}"}
                     for i in range(CUSTOMERS)]
        httpx.post(f"{stack.gateway}/v1/customers/batch", json={"customers": customers},
                   headers=auth, timeout=60).raise_for_status()

        async def single(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.post(
                "/v1/events", content=json.dumps(event("single", i)),
                headers={**auth, "content-type": "application/cloudevents+json"})

        def batch_sender(source: str) -> Any:
            async def send(client: httpx.AsyncClient, b: int) -> httpx.Response:
                body = json.dumps([event(source, b * args.batch_size + i)
                                   for i in range(args.batch_size)])
                return await client.post(
                    "/v1/events/batch", content=body,
                    headers={**auth, "content-type": "application/cloudevents-batch+json"})
            return send

        accepted = lambda r: r.status_code == 202  # noqa: E731
        asyncio.run(closed_loop(concurrency=8, total=200, base_url=stack.gateway, ok=accepted,
                                make_request=lambda c, i: single(c, 10_000_000 + i)))
        asyncio.run(closed_loop(concurrency=1, total=2, base_url=stack.gateway, ok=accepted,
                                make_request=batch_sender("warm")))
        cpu_start = cpu_snapshot(stack)
        singles = asyncio.run(raw_closed_loop(
            url=stack.gateway, path="/v1/events", concurrency=args.concurrency,
            total=args.singles, ok_status=202,
            headers={**auth, "Content-Type": "application/cloudevents+json"},
            body_for=lambda i: json.dumps(event("single", i)).encode()))
        cpu_singles = cpu_snapshot(stack)
        batches = asyncio.run(closed_loop(
            concurrency=args.batch_concurrency, total=args.batches, base_url=stack.gateway,
            ok=accepted, make_request=batch_sender("batch")))
        cpu_batches = cpu_snapshot(stack)
        copy_rate = copy_baseline(url, batches=args.batches, size=args.batch_size)

    batch_rate = batches.rate * args.batch_size
    print(f"stack: one process per service x {args.processes} uvicorn worker(s), no queue "
          f"workers; load average at the end {os.getloadavg()[0]:.2f}")
    print(singles.line(f"(a) single events, {args.concurrency} connections"))
    print(f"    -> {singles.rate:,.0f} events/s, p50 {singles.pct(50):.1f} ms, "
          f"p99 {singles.pct(99):.1f} ms (target >= 800/s, p99 <= 50 ms)")
    print(cpu_line(cpu_start, cpu_singles, args.singles))
    print(batches.line(f"(b) batches of {args.batch_size}, {args.batch_concurrency} "
                       "connections"))
    print(f"    -> {batch_rate:,.0f} events/s")
    print(cpu_line(cpu_singles, cpu_batches, args.batches))
    print(f"baseline COPY of the same rows, {args.batch_size} per COPY+commit: "
          f"{copy_rate:,.0f} rows/s")
    print(f"batch / COPY = {batch_rate / copy_rate:.0%} (target >= 30%)")
    record(f"single events through the gateway, {args.concurrency} connections",
           singles.rate, "events/s", target=">= 800 events/s",
           met=singles.rate >= 800)
    record("single events, p99 latency", singles.pct(99), "ms", target="<= 50 ms",
           met=singles.pct(99) <= 50)
    record(f"batches of {args.batch_size} events, {args.batch_concurrency} connections",
           batch_rate, "events/s", baseline=(f"COPY, {args.batch_size} rows per commit",
                                             copy_rate),
           target=">= 30 % of COPY", met=batch_rate >= 0.3 * copy_rate)


if __name__ == "__main__":
    main()
