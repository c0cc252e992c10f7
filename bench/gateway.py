"""Gateway overhead: the same authenticated read straight at a service (baseline, with the
identity headers the gateway would add) and through the gateway, 32 connections, PostgreSQL.

    .venv/bin/python bench/gateway.py [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio

from bench import report
from bench.common import BENCH_SECRET, bench_stack, closed_loop, fresh_postgres
from shared.auth import Principal, identity_headers
from tests.stack import ADMIN_KEY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with fresh_postgres() as url, bench_stack(url, with_workers=False) as stack:
        path = "/v1/queue/depth"
        signed = identity_headers(Principal("bench", "bench", frozenset({"admin"})),
                                  secret=BENCH_SECRET)

        async def direct(client, _i):  # type: ignore[no-untyped-def]
            return await client.get(path, headers=signed)

        async def via_gateway(client, _i):  # type: ignore[no-untyped-def]
            return await client.get(path, headers={"Authorization": f"Bearer {ADMIN_KEY}"})

        for warm in (direct, via_gateway):  # warm pools and caches
            asyncio.run(closed_loop(concurrency=4, total=100, make_request=warm,
                                    base_url=stack.url("reviews") if warm is direct
                                    else stack.gateway))
        base = asyncio.run(closed_loop(concurrency=args.concurrency, total=args.requests,
                                       make_request=direct, base_url=stack.url("reviews")))
        gw = asyncio.run(closed_loop(concurrency=args.concurrency, total=args.requests,
                                     make_request=via_gateway, base_url=stack.gateway))
        print(base.line("baseline  direct to reviews service"))
        print(gw.line("measured  through the gateway      "))
        print(f"gateway adds {gw.pct(50) - base.pct(50):.1f} ms at p50; "
              f"throughput ratio {gw.rate / base.rate:.2f} of direct")
        report.record(f"authenticated read through the gateway, {args.concurrency} "
                      "connections", gw.rate, "req/s",
                      baseline=("straight at the service", base.rate))
        report.record("the same read, p50 latency", gw.pct(50), "ms",
                      baseline=("straight at the service", base.pct(50)))


if __name__ == "__main__":
    main()
