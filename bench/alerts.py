"""Alerts benchmarks on PostgreSQL (loopback only, bounded):

(a) event -> alert visible through the API, end to end through the gateway, ingest, scoring
    and the alerts worker, under a steady event rate from a load generator in its own
    process; p50 / p99 / max per 10 s window;
(b) rule evaluations per second in the worker (claim, read, evaluate, write, ack) against the
    same rules on the same rows in memory (the ceiling).

Both with 20 enabled rules: the 14 built-in ones and 6 more (expressions, thresholds, an
anomaly, and the event rule that every bench event crosses).

    python -m bench.alerts                        # 200 events/s for 60 s, then (b)
    python -m bench.alerts --rate 100 --seconds 30 --only a
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from bench.common import bench_stack, fresh_postgres, generator_note, open_loop_events
from bench.report import record
from services.alerts.evaluation.service import (
    compiled_rules,
    evaluate_subjects,
    needed_facts,
    subjects_for,
)
from services.alerts.rules import repository as rules_repository
from services.alerts.rules.schemas import RuleIn
from services.alerts.rules.service import create_rule, ensure_builtin_rules
from services.alerts.worker import build_worker
from shared import queue
from shared.db import Database
from shared.models import Customer, Event, WorkItem, utcnow
from shared.models.alerts import AlertRule
from shared.models.scoring import CustomerRisk
from shared.topics import ALERTS_EVENT
from tests.stack import ADMIN_KEY

SIGNAL_RULE = "Bench: transaction over 1,000"
EXTRA_RULES: tuple[dict[str, Any], ...] = (
    {"name": SIGNAL_RULE, "kind": "event", "severity": "warning",
     "params": {"event_type": "transaction.completed",
                "conditions": [{"path": "amount", "operator": ">=", "value": 1000}]}},
    {"name": "Bench: high PD and big order", "kind": "expression",
     "params": {"expression": 'event.type == "order.placed" && event.amount > 50000.0 '
                              '&& risk.pd > 0.2'}},
    {"name": "Bench: points under 400", "kind": "expression",
     "params": {"expression": "risk.points < 400"}},
    {"name": "Bench: PD over 30 %", "kind": "threshold",
     "params": {"indicator": "pd", "operator": ">", "value": 0.3}},
    {"name": "Bench: open complaints", "kind": "threshold",
     "params": {"indicator": "complaints_open", "operator": ">=", "value": 5}},
    {"name": "Bench: payment frequency", "kind": "anomaly",
     "params": {"anomaly": "frequency", "event_type": "payment.received", "factor": 4}},
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


def seed_rules(db: Database) -> int:
    with db.transaction() as session:
        ensure_builtin_rules(session)
        for body in EXTRA_RULES:
            create_rule(session, body=RuleIn.model_validate(body), actor="bench")
        return len(rules_repository.enabled_rules(session))


def seed_customers(db: Database, count: int, *, with_risk: bool) -> list[str]:
    ids = [f"bench-{i:06d}" for i in range(count)]
    now = utcnow()
    with db.transaction() as session:
        for start in range(0, count, 5000):
            chunk = ids[start:start + 5000]
            session.execute(insert(Customer), [
                {"customer_id": cid, "name": f"Bench {cid}", "industry": "retail",
                 "country": "DE", "credit_limit": Decimal("50000.00"),
                 "credit_currency": "EUR", "attributes": {}, "registration_ids": {},
                 "incomplete": False, "updated_at": now, "created_at": now}
                for cid in chunk])
            if with_risk:
                session.execute(insert(CustomerRisk), [
                    {"customer_id": cid, "pd_default": 0.01 + (i % 50) / 200,
                     "points": 650 - i % 300, "tier": ("low", "medium", "high")[i % 3],
                     "model_version": "bench", "reasons": [
                         {"feature": "days_past_due", "text": "days past due", "points": -5}],
                     "pd_churn": 0.1, "churn_reasons": [], "feature_set": "core",
                     "feature_set_version": 1,
                     "features": {"days_past_due": i % 120, "utilization": (i % 100) / 90,
                                  "complaints_open": i % 4, "complaints_90": i % 5},
                     "outstanding_balance": 0, "overdue_amount": 0, "credit_limit": 50000,
                     "credit_currency": "EUR", "in_default": False, "tier_config_version": 0,
                     "trigger": "bench", "scored_at": now}
                    for i, cid in enumerate(chunk, start)])
    return ids


# --- (a) the live stack --------------------------------------------------------------------

def bench_latency(rate: float, seconds: float) -> None:
    with fresh_postgres() as url, bench_stack(url, with_workers=False) as stack:
        db = Database(url)
        rules = seed_rules(db)
        total = int(rate * seconds)
        ids = seed_customers(db, total, with_risk=False)
        with db.transaction() as session:
            signal = session.query(AlertRule.id).filter(AlertRule.name == SIGNAL_RULE).scalar()
        stack.ensure_admin_key(db)
        stack.start_workers()
        time.sleep(3)  # workers connected and polling
        print(f"(a) {rules} enabled rules, {total} customers; {rate:.0f} events/s for "
              f"{seconds:.0f}s through the gateway", flush=True)
        seen: dict[str, float] = {}
        stop = threading.Event()

        def monitor() -> None:
            since = 0
            with httpx.Client(base_url=stack.gateway, timeout=30,
                              headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
                while not stop.is_set():
                    page = client.get("/v1/alerts", params={"since_id": since, "limit": 500,
                                                            "rule_id": signal})
                    now = time.time()
                    items = page.json()["items"] if page.status_code == 200 else []
                    for item in items:
                        seen.setdefault(item["customer_id"], now)
                        since = max(since, item["id"])
                    if len(items) < 500:
                        time.sleep(0.05)

        backlog: list[str] = []

        def sample_backlog() -> None:
            # Pending work per topic every 10 s: which consumer falls behind, if any.
            while not stop.wait(10):
                with db.transaction() as session:
                    depth = dict(session.execute(
                        select(WorkItem.topic, func.count()).group_by(WorkItem.topic)).all())
                backlog.append(", ".join(f"{t} {n}" for t, n in sorted(depth.items())))

        watcher = threading.Thread(target=monitor, daemon=True)
        watcher.start()
        sampler = threading.Thread(target=sample_backlog, daemon=True)
        sampler.start()
        results: Any = mp.get_context("spawn").Queue()
        generator = mp.get_context("spawn").Process(
            target=open_loop_events,
            args=(stack.gateway, ADMIN_KEY, ids, rate, seconds, results))
        generator.start()
        started: float = results.get(timeout=120)
        report = results.get(timeout=seconds + 120)
        sent: list[tuple[str, float, int, float]] = report["sent"]
        generator.join(timeout=30)
        print(f"    {generator_note(report, seconds)}", flush=True)
        deadline = time.time() + 60
        accepted = [s for s in sent if 200 <= s[2] < 300]
        while time.time() < deadline and len(seen) < len(accepted):
            time.sleep(0.2)
        stop.set()
        watcher.join(timeout=10)
        latencies = [(at - started, (seen[cid] - at) * 1000) for cid, at, _, _ in accepted
                     if cid in seen]
        posts = [(answered - at) * 1000 for _, at, _, answered in accepted]
        after = [(seen[cid] - answered) * 1000 for cid, _, _, answered in accepted
                 if cid in seen]
        errors = len(sent) - len(accepted)
        if errors:
            statuses: dict[int, int] = {}
            for _, _, status, _ in sent:
                statuses[status] = statuses.get(status, 0) + 1
            print(f"    answers by status (0: timeout or connection error): {statuses}",
                  flush=True)
        all_ms = [ms for _, ms in latencies]
        print(f"(a) {len(sent)} events sent ({errors} errors), {len(latencies)} alerts seen "
              f"({len(accepted) - len(latencies)} missing); event -> alert visible through "
              f"the API: p50 {_pct(all_ms, 50):.0f} ms, p99 {_pct(all_ms, 99):.0f} ms, "
              f"max {max(all_ms, default=0):.0f} ms", flush=True)
        print(f"    of which POST /v1/events through the gateway (202): p50 "
              f"{_pct(posts, 50):.0f} ms, p99 {_pct(posts, 99):.0f} ms; from the 202 to the "
              f"alert visible: p50 {_pct(after, 50):.0f} ms, p99 {_pct(after, 99):.0f} ms",
              flush=True)
        p99 = _pct(all_ms, 99)
        record(f"event -> alert visible through the API, {rate:.0f} events/s for "
               f"{seconds:.0f}s, p99", p99, "ms", target="p99 <= 1000 ms", met=p99 <= 1000)
        record("event -> alert visible, alerts seen of events accepted", len(latencies),
               "alerts", baseline=("events accepted", len(accepted)))
        for i, line in enumerate(backlog):
            print(f"    queue at {10 * (i + 1):3d}s: {line}", flush=True)
        for window in range(0, int(seconds), 10):
            part = [ms for at, ms in latencies if window <= at < window + 10]
            if part:
                print(f"    events sent in [{window:3d}s, {window + 10:3d}s): {len(part):5d}, "
                      f"p50 {_pct(part, 50):5.0f} ms, p99 {_pct(part, 99):5.0f} ms, "
                      f"max {max(part):5.0f} ms", flush=True)
        db.dispose()


# --- (b) evaluations per second ------------------------------------------------------------

def bench_evaluations(events: int) -> None:
    with fresh_postgres() as url:
        db = Database(url)
        rules = seed_rules(db)
        ids = seed_customers(db, events, with_risk=True)
        now = utcnow()
        with db.transaction() as session:
            pks = session.execute(insert(Event).returning(Event.id), [
                {"source": "bench", "event_id": f"e-{i}", "type": "transaction.completed",
                 "customer_id": cid, "occurred_at": now, "received_at": now,
                 "data": {"amount": "5000.00", "currency": "EUR"}, "attributes": {},
                 "amount": Decimal("5000.00"), "currency": "EUR",
                 "counterparty": f"cp-{i % 97}"}
                for i, cid in enumerate(ids)]).scalars().all()
            queue.enqueue_batch(session, topic=ALERTS_EVENT, coalesce=False, now=now, items=[
                (cid, {"event_pk": pk, "type": "transaction.completed"})
                for cid, pk in zip(ids, pks, strict=True)])
        # The in-memory ceiling: the same claimed items, rows read once, evaluated again
        # and again without the database.
        with db.transaction() as session:
            items = queue.claim(session, topics=[ALERTS_EVENT], worker_id="bench-peek",
                                limit=events)
            session.execute(update(WorkItem).values(locked_by=None, locked_until=None,
                                                    attempts=0))
        with db.transaction() as session:
            compiled = compiled_rules(rules_repository.enabled_rules(session))
            subjects = subjects_for(session, items, now)
            facts = needed_facts(session, compiled, subjects, now)
        rounds, started = 0, time.perf_counter()
        while time.perf_counter() - started < 5:
            result = evaluate_subjects(compiled, subjects, facts)
            rounds += 1
        ceiling = rounds * result.evaluations / (time.perf_counter() - started)
        worker = build_worker(db)
        consumer = worker.consumer("evaluate")
        started = time.perf_counter()
        handled = 0
        while (n := consumer.run_once()) > 0:
            handled += n
        elapsed = time.perf_counter() - started
        evaluations = handled * rules
        print(f"(b) {rules} rules x {handled} events in the worker on PostgreSQL (batches of "
              f"{consumer.batch_size}): {elapsed:.1f}s = {handled / elapsed:,.0f} events/s = "
              f"{evaluations / elapsed:,.0f} rule evaluations/s; in memory (same rules, same "
              f"rows): {ceiling:,.0f} evaluations/s; the worker runs at "
              f"{evaluations / elapsed / ceiling:.1%} of the ceiling", flush=True)
        record(f"alert rule evaluations in the worker, {rules} rules", evaluations / elapsed,
               "evaluations/s", baseline=("same rules on the same rows in memory", ceiling))
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="a,b", help="comma-separated sections")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--evaluation-events", type=int, default=5000)
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "a" in only:
        bench_latency(args.rate, args.seconds)
    if "b" in only:
        bench_evaluations(args.evaluation_events)


if __name__ == "__main__":
    main()
