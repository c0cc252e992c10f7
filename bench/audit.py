"""Audit log benchmarks on PostgreSQL (loopback only, bounded loops):

(a) credit decisions through the gateway at 32 connections (each decision appends one audit
    entry), on the code before the transparency log (the hash chain, from git: --before)
    and on this checkout with its sequencer running, in the same run;
(b) appends in-process: 16 threads each appending in its own transaction, before and after;
(c) the sequencer: entries integrated per second from a backlog of --entries;
(d) verification of the whole log (--entries, default 1,000,000): rows per second;
(e) the delay from an entry's commit to a signed checkpoint covering it, at 500 appends/s.

    python -m bench.audit                       # everything (several minutes)
    python -m bench.audit --only c,d --entries 200000
    python -m bench.audit --before 9ab3674      # the commit to compare (a) and (b) with
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_BEFORE = "9ab3674"  # the last commit with the hash-chained audit log


def record(*args: Any, **kwargs: Any) -> None:
    """bench.report.record, imported when called: this file also runs inside old trees
    (run_before), which may have no bench/report.py."""
    from bench.report import record as keep

    keep(*args, **kwargs)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


# --- phases that run on either tree (only APIs both versions have) ------------------------

def phase_decisions(decisions: int, customers: int) -> dict[str, Any]:
    from bench.common import BENCH_SECRET, closed_loop, fresh_postgres
    from services.scoring.jobs.rescore import run_rescore
    from services.scoring.simulator.loader import load_into_database
    from services.scoring.simulator.portfolio import SimConfig, simulate
    from shared.db import Database
    from shared.models.scoring import ScoringJob
    from tests.stack import ADMIN_KEY, start_stack

    with fresh_postgres() as url, start_stack(url, internal_secret=BENCH_SECRET) as stack:
        db = Database(url)
        portfolio = simulate(SimConfig(customers=customers, months=6, seed=3))
        load_into_database(db, portfolio)
        job = ScoringJob(kind="rescore", request={"filter": {}, "trigger": "bench"},
                         created_by="bench")
        run_rescore(db, job, lambda *a, **k: None)  # type: ignore[arg-type]
        ids = [c["customer_id"] for c in portfolio.customers]

        def request(client: Any, i: int) -> Any:
            return client.post("/v1/decisions/credit", headers={
                "Authorization": f"Bearer {ADMIN_KEY}"}, json={
                "customer_id": ids[i % len(ids)], "amount": f"{1000 + i % 50 * 500}.00",
                "currency": "EUR"})

        asyncio.run(closed_loop(concurrency=32, total=300, make_request=request,
                                base_url=stack.gateway))  # warm-up
        result = asyncio.run(closed_loop(concurrency=32, total=decisions,
                                         make_request=request, base_url=stack.gateway))
        db.dispose()
    return {"rate": result.rate, "p50": result.pct(50), "p99": result.pct(99),
            "errors": result.errors, "requests": result.requests}


def phase_appends(threads: int, per_thread: int) -> dict[str, Any]:
    from bench.common import fresh_postgres
    from shared import audit
    from shared.db import Database

    with fresh_postgres() as url:
        db = Database(url)  # a pool of 12 + 4: enough for 16 threads
        latencies: list[float] = []

        def work(worker: int) -> None:
            for i in range(per_thread):
                started = time.perf_counter()
                with db.transaction() as session:
                    audit.record(session, actor="bench", action="credit.decided",
                                 subject_type="customer", subject_id=f"c{worker}-{i}",
                                 details={"decision": "approve", "amount": "1000.00"})
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - started
        db.dispose()
    return {"rate": threads * per_thread / elapsed, "p50": _pct(latencies, 50),
            "p99": _pct(latencies, 99)}


PHASES = {"decisions": phase_decisions, "appends": phase_appends}


def run_before(ref: str, phase: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``phase`` on the tree of commit ``ref`` (exported with git archive, in a temporary
    directory), with this file copied in: the old code, migrations and stack as they were."""
    tree = Path(tempfile.mkdtemp(prefix="riskwatch-before-"))
    try:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        shutil.copy(Path(__file__), tree / "bench" / "audit.py")
        child = subprocess.run(
            [sys.executable, "-m", "bench.audit", "--phase", phase, "--args", json.dumps(kwargs)],
            cwd=tree, capture_output=True, text=True)
        if child.returncode:
            raise RuntimeError(f"the run on {ref} failed:\n{child.stderr[-3000:]}")
        output = child.stdout
        result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return result
    finally:
        shutil.rmtree(tree, ignore_errors=True)


# --- phases of the transparency log (this checkout only) ----------------------------------

def _bulk_entries(db: Any, count: int) -> None:
    from sqlalchemy import insert

    from shared.audit import entry_content
    from shared.models import AuditEntry, utcnow

    rows = []
    for i in range(10_000):
        row = {"occurred_at": utcnow(), "actor": "bench (k1)", "action": "credit.decided",
               "subject_type": "customer", "subject_id": f"c{i % 5000}",
               "details": {"decision": "approve", "amount": "1000.00", "reasons": ["Within."]}}
        rows.append({**row, "content": entry_content(**row)})
    for start in range(0, count, len(rows)):
        with db.transaction() as session:
            session.execute(insert(AuditEntry), rows[:min(len(rows), count - start)])


def bench_sequencer_and_verify(entries: int) -> None:
    from bench.common import fresh_postgres
    from shared.db import Database
    from shared.transparency.log import Sequencer, verify
    from shared.transparency.settings import get_audit_settings, get_signer

    settings = get_audit_settings()
    with fresh_postgres() as url:
        db = Database(url)
        started = time.perf_counter()
        _bulk_entries(db, entries)
        print(f"    {entries:,} entries inserted in {time.perf_counter() - started:.0f}s",
              flush=True)
        sequencer = Sequencer(db, get_signer(), origin=settings.origin, batch_size=20_000)
        started = time.perf_counter()
        batches = 0
        while sequencer.run_once().integrated:
            batches += 1
        elapsed = time.perf_counter() - started
        print(f"(c) sequencer: {entries:,} entries in {batches} batches of 20,000 in "
              f"{elapsed:.1f}s = {entries / elapsed:,.0f} entries/s", flush=True)
        record(f"audit sequencer, {entries:,}-entry backlog", entries / elapsed, "entries/s",
               target=">= 20,000 entries/s", met=entries / elapsed >= 20_000)
        with db.transaction() as session:
            result = verify(session, get_signer().verifier, origin=settings.origin)
        print(f"(d) verify: {result.entries:,} entries and {result.checkpoints} checkpoints in "
              f"{result.seconds:.1f}s = {result.rows_per_second:,.0f} rows/s, ok={result.ok}",
              flush=True)
        record(f"audit verify, {result.entries:,} entries", result.rows_per_second, "rows/s")
        db.dispose()


def bench_checkpoint_delay(rate: float, seconds: float) -> None:
    from sqlalchemy import select

    from bench.common import fresh_postgres
    from shared import audit
    from shared.db import Database
    from shared.models import AuditEntry
    from shared.transparency.log import Sequencer
    from shared.transparency.settings import get_audit_settings, get_signer

    settings = get_audit_settings()
    with fresh_postgres() as url:
        db = Database(url)
        committed: dict[int, float] = {}
        covered: dict[int, float] = {}
        stop = threading.Event()

        def sequence() -> None:
            # As services/reviews/sequencer.py runs it: a batch, then a pause unless the
            # batch was full.
            sequencer = Sequencer(db, get_signer(), origin=settings.origin,
                                  batch_size=settings.batch_size)
            while not stop.is_set() or len(covered) < len(committed):
                batch = sequencer.run_once()
                now = time.perf_counter()
                if batch.integrated:
                    with db.transaction() as session:
                        for entry_id in session.scalars(select(AuditEntry.id).where(
                                AuditEntry.leaf_index >= batch.tree_size - batch.integrated)):
                            covered.setdefault(entry_id, now)
                if batch.integrated < sequencer.batch_size:
                    time.sleep(settings.sequence_interval_seconds)

        def append(worker: int, appenders: int) -> None:
            for i in range(worker, int(rate * seconds), appenders):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                with db.transaction() as session:
                    entry = audit.record(session, actor="bench", action="credit.decided",
                                         subject_type="customer", subject_id=f"c{i}")
                committed[entry.id] = time.perf_counter()

        thread = threading.Thread(target=sequence)
        thread.start()
        started = time.perf_counter()
        appenders = [threading.Thread(target=append, args=(w, 8)) for w in range(8)]
        for appender in appenders:
            appender.start()
        for appender in appenders:
            appender.join()
        achieved = len(committed) / (time.perf_counter() - started)
        stop.set()
        thread.join()
        delays = [(covered[i] - committed[i]) * 1000 for i in committed]
        print(f"(e) commit -> signed checkpoint at {achieved:.0f} appends/s for {seconds:.0f}s "
              f"(sequencer every {settings.sequence_interval_seconds}s): p50 "
              f"{_pct(delays, 50):.0f} ms, p99 {_pct(delays, 99):.0f} ms, max "
              f"{max(delays):.0f} ms", flush=True)
        record(f"audit entry commit -> signed checkpoint at {achieved:.0f} appends/s, p99",
               _pct(delays, 99), "ms", target="p99 <= 2000 ms", met=_pct(delays, 99) <= 2000)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="a,b,c,d,e")
    parser.add_argument("--before", default=DEFAULT_BEFORE)
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child run on the old tree: one phase, its result as JSON
        print(json.dumps(PHASES[args.phase](**json.loads(args.args))))
        return
    only = set(args.only.split(","))
    if "a" in only:
        kwargs = {"decisions": args.decisions, "customers": args.customers}
        decisions = {}
        for label, result in (("before (hash chain)", run_before(args.before, "decisions",
                                                                 **kwargs)),
                              ("after (transparency log + sequencer)",
                               phase_decisions(**kwargs))):
            print(f"(a) credit decisions via gateway, 32 connections, {label}: "
                  f"{result['rate']:,.0f}/s, p50 {result['p50']:.0f} ms, p99 "
                  f"{result['p99']:.0f} ms, errors {result['errors']}", flush=True)
            decisions[label] = result
        old, new = decisions["before (hash chain)"], \
            decisions["after (transparency log + sequencer)"]
        record("credit decisions through the gateway, each appending an audit entry",
               new["rate"], "req/s", baseline=(f"hash chain ({args.before})", old["rate"]))
        record("credit decisions with an audit entry, p99", new["p99"], "ms",
               baseline=(f"hash chain ({args.before})", old["p99"]))
    if "b" in only:
        kwargs = {"threads": 16, "per_thread": 500}
        appends = {}
        for label, result in (("before (hash chain)", run_before(args.before, "appends",
                                                                 **kwargs)),
                              ("after (no lock)", phase_appends(**kwargs))):
            print(f"(b) appends in-process, 16 threads, {label}: {result['rate']:,.0f}/s, "
                  f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms", flush=True)
            appends[label] = result
        record("audit appends in-process, 16 threads", appends["after (no lock)"]["rate"],
               "appends/s", baseline=(f"hash chain under a lock ({args.before})",
                                      appends["before (hash chain)"]["rate"]))
    if "c" in only or "d" in only:
        bench_sequencer_and_verify(args.entries)
    if "e" in only:
        bench_checkpoint_delay(500, 20)


if __name__ == "__main__":
    main()
