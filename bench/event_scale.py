"""Ingest and feature queries over many stored events (PostgreSQL), this tree against an
earlier commit's tree in the same run: by default the commit before the event table was
partitioned by month, so the comparison is one table against monthly partitions.

1. Two fresh databases, each migrated by its tree's own migrations, each loaded with N events
   spread over 24 months for C customers, server-side (INSERT … SELECT from generate_series:
   each event goes through the table's own insert path — on the partitioned table, its
   de-duplication trigger), with the partitions made ahead as the ingest worker would.
2. Rounds that alternate between the two trees (a fresh process of each tree's code per
   round, so a busy moment of the machine falls on both alike), each measuring:
   - ingest: batches of new events through ``ingest_events`` (what POST /v1/events/batch
     runs; one warm-up batch first), then the same batches again (all duplicates);
   - ``features_for`` 200 customers at a time (a rescore's page: every customer's whole
     history, which no month bound can prune);
   - the last 90 days' events counted by type (a time window, as a report or an alert
     window reads).
   Medians over the rounds, and after / before.

    python -m bench.event_scale                          # 10,000,000 events, 5 rounds
    python -m bench.event_scale --events 1000000 --rounds 3 --before 370c21c
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BEFORE_PARTITIONS = "370c21c"  # main before migration 0013
MONTHS = 24
CHUNK = 1_000_000

CUSTOMERS_SQL = """
INSERT INTO customer (customer_id, registration_ids, attributes, incomplete, is_drill,
                      updated_at, created_at)
SELECT 'c' || lpad(g::text, 7, '0'), '{}', '{}', false, false, now(), now()
FROM generate_series(0, :customers - 1) g
"""

# Invoices, payments of them, orders and complaints, evenly over the window.
EVENTS_SQL = """
INSERT INTO event (source, event_id, type, customer_id, occurred_at, received_at, data,
                   attributes, amount, currency, ref_id, due_on)
SELECT 'bench/scale', 'e' || g,
       (ARRAY['invoice.issued', 'payment.received', 'order.placed', 'complaint.opened'])
           [1 + g % 4],
       'c' || lpad((g % :customers)::text, 7, '0'),
       CAST(:start AS timestamptz) + (g::float8 / :total) * (CAST(:end AS timestamptz)
                                                            - CAST(:start AS timestamptz)),
       now(), '{}', '{}', (g % 997) + 0.5, 'EUR', 'inv-' || (g / 2),
       CAST(CAST(:start AS timestamptz) + (g::float8 / :total) * (CAST(:end AS timestamptz)
                                          - CAST(:start AS timestamptz)) AS date) + 30
FROM generate_series(:lo, :hi - 1) g
"""


def months_between(start: dt.datetime, end: dt.datetime) -> set[dt.date]:
    month, last = start.date().replace(day=1), end.date().replace(day=1)
    found = set()
    while month <= last:
        found.add(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return found


def load(url: str, *, events: int, customers: int, now: dt.datetime) -> float:
    """Seconds to store ``events`` events through the table's insert path."""
    from shared.db import Database

    start = now - dt.timedelta(days=30 * MONTHS)
    db = Database(url)
    try:
        try:  # this tree: the months are made ahead, as the ingest worker would
            from services.ingest.events import partitions
            partitions.create_partitions(db, months_between(start, now))
        except ImportError:
            pass
        with db.transaction() as session:
            session.execute(sa.text(CUSTOMERS_SQL), {"customers": customers})
        began = time.perf_counter()
        for lo in range(0, events, CHUNK):
            with db.transaction() as session:
                session.execute(sa.text(EVENTS_SQL), {
                    "customers": customers, "start": start, "end": now, "total": events,
                    "lo": lo, "hi": min(lo + CHUNK, events)})
            print(f"  loaded {min(lo + CHUNK, events):,} events", flush=True)
        seconds = time.perf_counter() - began
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        return seconds
    finally:
        db.dispose()


def cloudevents(tag: str, size: int, customers: int, now: dt.datetime
                ) -> list[dict[str, object]]:
    return [{"specversion": "1.0", "id": f"live-{tag}-{i}", "source": "bench/live",
             "type": "invoice.issued", "subject": f"c{(hash(tag) + i) % customers:07d}",
             "time": (now - dt.timedelta(minutes=i)).isoformat(),
             "data": {"invoice_id": f"live-{tag}-{i}", "amount": "120.00",
                      "currency": "EUR", "due_date": (now + dt.timedelta(days=30)).date()
                      .isoformat()}}
            for i in range(size)]


def measure(url: str, *, round_: int, customers: int, batches: int, batch_size: int,
            now: dt.datetime) -> dict[str, float]:
    """One round's figures, with this process's tree's code."""
    from services.ingest.events.service import ingest_events
    from services.scoring.features.service import features_for
    from shared.db import Database

    db = Database(url)
    figures: dict[str, float] = {}
    try:
        sent = [cloudevents(f"{round_}-{b}", batch_size, customers, now)
                for b in range(batches + 1)]
        with db.transaction() as session:  # warm-up: connections, plans, caches
            ingest_events(session, items=sent.pop())
        for label in ("new", "duplicate"):
            began = time.perf_counter()
            for items in sent:
                with db.transaction() as session:
                    outcomes = ingest_events(session, items=items)
                expected = "accepted" if label == "new" else "duplicate"
                assert {o.status for o in outcomes} == {expected}, label
            figures[f"ingest_{label}"] = batches * batch_size / (time.perf_counter() - began)
        page_ms = []
        for page in range(5):
            ids = [f"c{(round_ * 104_729 + page * 7919 + i * 97) % customers:07d}"
                   for i in range(200)]
            began = time.perf_counter()
            with db.read() as session:
                features_for(session, customer_ids=ids, as_of=now)
            page_ms.append((time.perf_counter() - began) * 1000)
        figures["features_ms"] = statistics.median(page_ms)
        began = time.perf_counter()
        with db.read() as session:
            session.execute(sa.text(
                "SELECT type, count(*) FROM event WHERE occurred_at >= :since "
                "GROUP BY type"), {"since": now - dt.timedelta(days=90)}).all()
        figures["window_ms"] = (time.perf_counter() - began) * 1000
    finally:
        db.dispose()
    return figures


def in_tree(tree: Path, *argv: str) -> str:
    """This benchmark's step in ``tree``'s code (a fresh process); its last line."""
    done = subprocess.run([sys.executable, "-m", "bench.event_scale", *argv], cwd=tree,
                          check=True, env={**os.environ, "PYTHONPATH": str(tree)},
                          stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def step(args: argparse.Namespace) -> None:
    """Run inside a tree: --prepare (migrate and load) or --measure (one round)."""
    now = dt.datetime.fromisoformat(args.now)
    if args.prepare:
        from shared.migrate import upgrade

        upgrade(args.url)
        seconds = load(args.url, events=args.events, customers=args.customers, now=now)
        print(json.dumps({"load": args.events / seconds}))
    else:
        print(json.dumps(measure(args.url, round_=args.round, customers=args.customers,
                                 batches=args.batches, batch_size=args.batch_size, now=now)))


FIGURES = [("load", "load (INSERT … SELECT)", "events/s", "{:,.0f}"),
           ("ingest_new", "ingest, new events", "events/s", "{:,.0f}"),
           ("ingest_duplicate", "ingest, duplicates", "events/s", "{:,.0f}"),
           ("features_ms", "features of 200 customers", "ms", "{:.1f}"),
           ("window_ms", "90-day count by type", "ms", "{:.1f}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--before", default=BEFORE_PARTITIONS, help="commit to compare with")
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare or args.measure:
        step(args)
        return
    from bench import report
    from bench.common import fresh_postgres, tree_of

    print(f"{args.events:,} events over {MONTHS} months for {args.customers:,} customers; "
          f"{args.rounds} alternating rounds of {args.batches} batches of {args.batch_size}; "
          f"before = {args.before}; load average {os.getloadavg()[0]:.1f}", flush=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    sizes = ["--events", str(args.events), "--customers", str(args.customers),
             "--batches", str(args.batches), "--batch-size", str(args.batch_size),
             "--now", now]
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    with tree_of(args.before, Path(__file__)) as before_tree, \
            fresh_postgres(migrate=False) as before_url, \
            fresh_postgres(migrate=False) as after_url:
        trees = {"before": (before_tree, before_url), "after": (ROOT, after_url)}
        for side, (tree, url) in trees.items():
            print(f"loading {side} ...", flush=True)
            loaded = json.loads(in_tree(tree, "--prepare", "--url", url, *sizes))
            results[side]["load"] = [loaded["load"]]
        for round_ in range(args.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for side in order:
                tree, url = trees[side]
                figures = json.loads(in_tree(tree, "--measure", "--url", url,
                                             "--round", str(round_), *sizes))
                for name, value in figures.items():
                    results[side].setdefault(name, []).append(value)
            print(f"  round {round_ + 1} of {args.rounds} done", flush=True)
    print(f"\n| figure | before ({args.before}: one table) | after (monthly partitions) "
          f"| after / before |\n|---|---|---|---|")
    for name, title, unit, form in FIGURES:
        before = statistics.median(results["before"][name])
        after = statistics.median(results["after"][name])
        print(f"| {title} | {form.format(before)} {unit} | {form.format(after)} {unit} "
              f"| {after / before:.2f} |")
        report.record(f"{title}, {args.events:,} events, monthly partitions", after, unit,
                      baseline=(f"one table ({args.before})", before))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
