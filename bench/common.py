"""Helpers the benchmarks share: a fresh PostgreSQL database, the real stack, a bounded
closed-loop load generator and percentile maths. Loopback traffic only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.ingest.events import partitions  # noqa: E402
from shared.db import Database, normalize_url  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from tests.stack import Stack, start_stack  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "RISKWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_SECRET = "bench-internal-secret"


# A bench measures the path, not the per-key limiter (1,000 requests/s by default, which a
# route faster than that ran into: wrk counted the 429s as errors). Lifted, the limiter still
# runs on every request and never refuses one.
UNLIMITED_RATE = {"RISKWATCH_RATE_LIMIT_PER_SECOND": "1000000",
                  "RISKWATCH_RATE_LIMIT_BURST": "1000000"}


@contextmanager
def bench_stack(database_url: str, *, internal_secret: str = BENCH_SECRET,
                extra_env: dict[str, str] | None = None, **kwargs: Any) -> Iterator[Stack]:
    """The whole stack as ``tests.stack.start_stack`` starts it, without the rate limit, on
    a database whose events sit in their monthly partitions as the ingest worker's hourly
    job keeps them: a bench loads history straight into the default partition, and the
    stack's first pass would move it while the bench measures: ingest waits for the move
    (single events' p99 1,372 ms with it under way, 170-199 ms without, bench.requests)."""
    db = Database(database_url)
    partitions.maintain(db, now=dt.datetime.now(dt.UTC), months_ahead=3, retention_months=0)
    db.dispose()
    with start_stack(database_url, internal_secret=internal_secret,
                     extra_env={**UNLIMITED_RATE, **(extra_env or {})}, **kwargs) as stack:
        yield stack


def vacuum_analyze(url: str) -> None:
    """What autovacuum would have done by now: this machine's PostgreSQL runs with it off,
    so a bulk load or a previous run leaves stale statistics, dead rows and an unset
    visibility map (index-only reads rely on it)."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    admin.dispose()


@contextmanager
def fresh_postgres(*, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database, migrated to this tree's head unless ``migrate`` is False
    (another tree migrates it), dropped afterwards."""
    name = f"rw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def tree_of(ref: str, *benches: Path) -> Iterator[Path]:
    """Commit ``ref``'s tree in a temporary folder, with these bench files of this tree
    copied in (so an older tree runs today's measurement), removed afterwards."""
    tree = Path(tempfile.mkdtemp(prefix="riskwatch-before-"))
    try:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        for bench in benches:
            shutil.copy(bench, tree / "bench" / bench.name)
        yield tree
    finally:
        shutil.rmtree(tree, ignore_errors=True)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def line(self, label: str) -> str:
        return (f"{label}: {self.requests} req in {self.seconds:.2f}s = {self.rate:,.0f}/s, "
                f"p50 {self.pct(50):.1f} ms, p99 {self.pct(99):.1f} ms, errors {self.errors}")


@dataclass
class Reply:
    """The parts of an answer the benches look at (httpx-like names)."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class LoadClient:
    """A small httpx-like face over aiohttp. The load generator must not be the bottleneck:
    httpx's async pool managed ~460 req/s at 32 connections on loopback, aiohttp ~15,000."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      json: Any = None, content: bytes | str | None = None,
                      params: dict[str, str] | None = None) -> Reply:
        async with self.session.request(method, url, headers=headers, json=json, data=content,
                                        params=params) as response:
            body = await response.read()
            return Reply(response.status, dict(response.headers), body)

    async def get(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", url, **kwargs)


async def closed_loop(
    *, concurrency: int, total: int,
    make_request: Callable[[Any, int], Awaitable[Any]],
    base_url: str, ok: Callable[[Any], bool] = lambda r: r.status_code < 400,
) -> LoadResult:
    """`concurrency` connections each sending requests back to back until `total` are sent.
    `make_request(client, i)` gets a :class:`LoadClient` and returns its :class:`Reply`."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:
        client = LoadClient(session)

        async def runner() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                try:
                    response = await make_request(client, i)
                    if not ok(response):
                        errors += 1
                except (TimeoutError, aiohttp.ClientError):
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(total, errors, elapsed, latencies)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def open_loop_events(gateway: str, api_key: str, ids: list[str], rate: float, seconds: float,
                     results: Any, *, event_type: str = "transaction.completed",
                     data: dict[str, Any] | None = None) -> None:
    """A load generator's process (run it with multiprocessing's spawn context): sends one
    CloudEvent per customer of ``ids`` to ``POST /v1/events``, open loop — on schedule,
    whatever the answers' latency — so the system, not the generator, sets the pace. Puts
    the start time, then a dict with ``sent`` [(customer, sent wall time, status, answered
    wall time)], its own CPU seconds and how far it fell behind its schedule."""
    import resource

    async def run() -> dict[str, Any]:
        sent: list[tuple[str, float, int, float]] = []
        headers = {"Authorization": f"Bearer {api_key}",
                   "content-type": "application/cloudevents+json"}
        body_data = data or {"amount": "5000.00", "currency": "EUR"}
        behind = 0.0
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(gateway, connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=60)) as session:

            async def send(i: int) -> None:
                cid = ids[i]
                body = {"specversion": "1.0", "id": f"bench-{uuid.uuid4().hex}",
                        "source": "bench", "type": event_type, "subject": cid,
                        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "data": {**body_data, "counterparty": f"cp-{i % 97}"}}
                at = time.time()
                try:
                    async with session.post("/v1/events", data=json.dumps(body),
                                            headers=headers) as response:
                        await response.read()
                        sent.append((cid, at, response.status, time.time()))
                except (TimeoutError, aiohttp.ClientError):
                    sent.append((cid, at, 0, time.time()))

            total = min(int(rate * seconds), len(ids))
            results.put(time.time())
            started = time.perf_counter()
            tasks = []
            for i in range(total):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    behind = max(behind, -delay)
                tasks.append(asyncio.create_task(send(i)))
            await asyncio.gather(*tasks)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"sent": sent, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "behind_seconds": behind}

    results.put(asyncio.run(run()))


def generator_note(report: dict[str, Any], seconds: float) -> str:
    """What the generator says about itself: its CPU, and whether it kept its schedule."""
    kept = report["behind_seconds"] < 0.1
    return (f"generator: {report['cpu_seconds'] / max(seconds, 1e-9):.0%} of a core, "
            + ("kept its schedule" if kept else
               f"fell {report['behind_seconds']:.2f}s behind its schedule (figures below "
               "understate the load)"))
