"""Drill benchmark on PostgreSQL (loopback only, bounded): a drill's time to detect (the
scenario's event stored by ingest → the alert raised by the alerts worker, both as the
database recorded them), over the real path (POST /v1/drills through the gateway, the alerts
worker's drill runner → ingest's API → the queue → scoring and alerts workers), p50 / p99 /
max over N drills of the built-in "Customer default" playbook:

(a) the baseline: the stack idle but for the drills;
(b) the same drills under a steady stream of other events through the gateway (200/s by
    default, transaction.completed for other customers), sent by a load generator in its
    own process (bench/alerts.py's open-loop generator).

    python -m bench.drills                       # 30 drills each, 200 events/s
    python -m bench.drills --drills 20 --rate 100
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import httpx

from bench.alerts import _pct, seed_customers
from bench.common import bench_stack, fresh_postgres, generator_note, open_loop_events
from bench.report import record
from services.alerts.builtins import ensure_builtins
from shared.db import Database
from tests.stack import ADMIN_KEY, Stack

PLAYBOOK = "Customer default"
SPACING_SECONDS = 0.5  # between two drills: each finds the pipeline as the load leaves it


def run_drills(stack: Stack, playbook_id: int, count: int, *, timeout: float = 120
               ) -> list[dict[str, Any]]:
    """Start ``count`` drills ``SPACING_SECONDS`` apart, then wait until each detected its
    alert; returns their reports."""
    with httpx.Client(base_url=stack.gateway, timeout=30,
                      headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        ids = []
        for _ in range(count):
            created = client.post("/v1/drills", json={"playbook_id": playbook_id})
            created.raise_for_status()
            ids.append(created.json()["id"])
            time.sleep(SPACING_SECONDS)
        deadline = time.monotonic() + timeout
        reports: dict[int, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            page = client.get("/v1/drills", params={"playbook_id": playbook_id,
                                                    "limit": 100})
            page.raise_for_status()
            for item in page.json()["items"]:
                if item["id"] in ids and item["seconds_to_detect"] is not None:
                    reports[item["id"]] = item
            if len(reports) == count:
                break
            time.sleep(0.5)
    return [reports[i] for i in ids if i in reports]


def summary(label: str, reports: list[dict[str, Any]], count: int) -> str:
    detect = [r["seconds_to_detect"] * 1000 for r in reports]
    whole = [(_ts(r["alert_opened_at"]) - _ts(r["created_at"])) * 1000 for r in reports]
    return (f"{label}: {len(reports)}/{count} drills detected; time to detect (event "
            f"stored → alert raised) p50 {_pct(detect, 50):.0f} ms, p99 "
            f"{_pct(detect, 99):.0f} ms, max {max(detect, default=0):.0f} ms; drill created "
            f"→ alert (with the runner's hop to ingest) p50 {_pct(whole, 50):.0f} ms, p99 "
            f"{_pct(whole, 99):.0f} ms")


def _ts(value: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def bench(count: int, rate: float) -> None:
    with fresh_postgres() as url, bench_stack(url, with_workers=False) as stack:
        db = Database(url)
        with db.transaction() as session:
            ensure_builtins(session)
        seconds = count * SPACING_SECONDS + 30  # warm-up, the drills, and a margin
        ids = seed_customers(db, int(rate * seconds), with_risk=False)
        stack.ensure_admin_key(db)
        stack.start_workers()
        time.sleep(3)  # workers connected and polling
        with httpx.Client(base_url=stack.gateway, timeout=30,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
            playbook_id = next(p["id"] for p in client.get("/v1/playbooks").json()
                               if p["name"] == PLAYBOOK)
        run_drills(stack, playbook_id, 2)  # warm-up: first requests, compiled rules
        print(f"{count} drills of {PLAYBOOK!r}, {SPACING_SECONDS}s apart", flush=True)
        idle = run_drills(stack, playbook_id, count)
        print(summary("(a) idle stack", idle, count), flush=True)

        results: Any = mp.get_context("spawn").Queue()
        generator = mp.get_context("spawn").Process(
            target=open_loop_events, args=(stack.gateway, ADMIN_KEY, ids, rate, seconds,
                                           results))
        generator.start()
        results.get(timeout=120)  # the generator's schedule started
        time.sleep(10)  # the steady state, not the ramp
        loaded = run_drills(stack, playbook_id, count)
        report = results.get(timeout=seconds + 120)
        sent: list[tuple[str, float, int, float]] = report["sent"]
        generator.join(timeout=30)
        accepted = sum(1 for s in sent if 200 <= s[2] < 300)
        print(summary(f"(b) under {rate:.0f} events/s of other traffic ({accepted}/"
                      f"{len(sent)} accepted)", loaded, count), flush=True)
        print(f"    {generator_note(report, seconds)}", flush=True)
        for name, reports in (("idle", idle), (f"under {rate:.0f} events/s", loaded)):
            detect = [r["seconds_to_detect"] * 1000 for r in reports]
            record(f"drill time to detect, {count} drills, {name}, p99", _pct(detect, 99),
                   "ms", baseline=None if name == "idle" else (
                       "idle stack", _pct([r["seconds_to_detect"] * 1000 for r in idle], 99)))
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drills", type=int, default=30)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    bench(args.drills, args.rate)


if __name__ == "__main__":
    main()
