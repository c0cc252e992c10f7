"""Helpers the benchmarks share: a fresh PostgreSQL database, the real stack, a bounded
closed-loop load generator and percentile maths. Loopback traffic only."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.db import normalize_url  # noqa: E402
from shared.migrate import upgrade  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "RISKWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_SECRET = "bench-internal-secret"


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    name = f"rw_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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


async def closed_loop(
    *, concurrency: int, total: int,
    make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    base_url: str, ok: Callable[[httpx.Response], bool] = lambda r: r.status_code < 400,
) -> LoadResult:
    """`concurrency` connections each sending requests back to back until `total` are sent."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def runner() -> None:
            nonlocal errors
            for i in counter:
                started = time.perf_counter()
                try:
                    response = await make_request(client, i)
                    if not ok(response):
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(total, errors, elapsed, latencies)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
