"""End-to-end capacity: the largest steady event rate at which event -> stored score keeps
p99 <= 1 s (PostgreSQL, the whole stack, the scoring worker and ingest on the same machine),
with one and with two scoring worker replicas.

The load generator runs in its own process (open loop, one event per customer, each sent on
schedule) and reports its own CPU and whether it kept its schedule. The latency of an event
is the moment its customer's score was computed (``customer_risk.scored_at``, stamped by the
worker) minus the moment the event was sent: nothing polls during the run.

    python -m bench.capacity                                  # 200..600 events/s, 1 and 2
    python -m bench.capacity --rates 300,500 --seconds 30 --replicas 1
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import threading
import time
from typing import Any

from sqlalchemy import func, select

from bench.alerts import seed_customers
from bench.common import bench_stack, fresh_postgres, generator_note, open_loop_events
from bench.report import record
from shared.db import Database
from shared.models import WorkItem
from shared.models.scoring import CustomerRisk
from tests.stack import ADMIN_KEY, Stack

TARGET_P99_MS = 1000.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


def measure(stack: Stack, db: Database, ids: list[str], *, rate: float,
            seconds: float) -> dict[str, Any]:
    """Send ``rate`` events/s for ``seconds`` (one per customer of ``ids``); event -> score
    latencies from the stored scores once the queue has drained."""
    backlog: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(5):
            with db.read() as session:
                backlog.append(int(session.scalar(
                    select(func.count()).select_from(WorkItem)
                    .where(WorkItem.topic == "scoring.rescore")) or 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results: Any = mp.get_context("spawn").Queue()
    generator = mp.get_context("spawn").Process(
        target=open_loop_events, args=(stack.gateway, ADMIN_KEY, ids, rate, seconds, results),
        kwargs={"event_type": "order.placed", "data": {"amount": "1200.00",
                                                       "currency": "EUR"}})
    generator.start()
    results.get(timeout=120)
    report: dict[str, Any] = results.get(timeout=seconds + 180)
    generator.join(timeout=30)
    deadline = time.time() + 120
    while time.time() < deadline:
        with db.read() as session:
            if not session.scalar(select(func.count()).select_from(WorkItem)
                                  .where(WorkItem.topic == "scoring.rescore")):
                break
        time.sleep(0.5)
    stop.set()
    accepted = [s for s in report["sent"] if 200 <= s[2] < 300]
    sent_at = {cid: at for cid, at, _, _ in accepted}
    with db.read() as session:
        rows = session.execute(select(CustomerRisk.customer_id, CustomerRisk.scored_at)
                               .where(CustomerRisk.customer_id.in_(list(sent_at)))).all()
        scored = {cid: at for cid, at in rows}
    latencies = [(scored[c].timestamp() - at) * 1000 for c, at in sent_at.items()
                 if c in scored and scored[c].timestamp() >= at]
    posts = [(answered - at) * 1000 for _, at, _, answered in accepted]
    return {"rate": rate, "sent": len(report["sent"]), "accepted": len(accepted),
            "scored": len(latencies), "p50": _pct(latencies, 50), "p99": _pct(latencies, 99),
            "max": max(latencies, default=0.0), "post_p99": _pct(posts, 99),
            "backlog_max": max(backlog, default=0),
            "generator": generator_note(report, seconds)}


def line(result: dict[str, Any]) -> str:
    ok = result["p99"] <= TARGET_P99_MS and result["scored"] == result["accepted"] > 0
    return (f"  {result['rate']:5.0f} events/s: {result['accepted']:,}/{result['sent']:,} "
            f"accepted, {result['scored']:,} scored; event -> score p50 {result['p50']:.0f} "
            f"ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms; POST p99 "
            f"{result['post_p99']:.0f} ms; rescore queue peaked at {result['backlog_max']:,}"
            f" -> {'sustained' if ok else 'NOT sustained'}; {result['generator']}")


def run_replicas(replicas: int, rates: list[float], seconds: float) -> float:
    customers = int(max(rates) * seconds) + 100
    best = 0.0
    with fresh_postgres() as url:
        db = Database(url)
        ids = seed_customers(db, customers * len(rates), with_risk=False)
        with bench_stack(url) as stack:
            for extra in range(1, replicas):
                stack.start_replica("scoring", extra)
            time.sleep(3)
            print(f"{replicas} scoring worker replica(s), {len(ids):,} customers", flush=True)
            for n, rate in enumerate(rates):
                result = measure(stack, db, ids[n * customers:(n + 1) * customers],
                                 rate=rate, seconds=seconds)
                print(line(result), flush=True)
                if result["p99"] <= TARGET_P99_MS and result["scored"] == result["accepted"]:
                    best = max(best, rate)
        db.dispose()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="200,300,400,500,600")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--replicas", default="1,2")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    first: tuple[str, float] | None = None
    for replicas in (int(r) for r in args.replicas.split(",")):
        best = run_replicas(replicas, rates, args.seconds)
        print(f"=> {replicas} scoring replica(s): largest rate sustained with p99 <= 1 s: "
              f"{best:.0f} events/s (of those tried)", flush=True)
        record(f"event -> stored score, largest steady rate with p99 <= 1 s, {replicas} "
               f"scoring replica(s), rates tried {args.rates}", best, "events/s",
               baseline=first, target=">= 500 events/s", met=best >= 500)
        first = first or (f"{replicas} replica(s)", best)


if __name__ == "__main__":
    main()
