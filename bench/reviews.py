"""Review desk benchmarks on PostgreSQL (loopback, bounded loops), on a simulated portfolio
scored by the built-in scorecard:

(a) each report (portfolio, migration, aging, concentration, reviews), JSON and CSV;
(b) the nightly due-review pass, and its repeat (nothing left to open);
(c) 10,000 triggered reviews from a burst of tier changes, drained by the reviews worker
    (one replica, then two).

    python -m bench.reviews                      # 100,000 customers (several minutes)
    python -m bench.reviews --customers 20000 --months 3
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, text, update

from bench.common import fresh_postgres
from bench.report import record
from services.reviews.reports import service as reports
from services.reviews.reports.csvout import csv_response
from services.reviews.reports.schemas import (
    AgingRow,
    ExposureRow,
    MigrationRow,
    PortfolioRow,
    ReviewsRow,
)
from services.reviews.worker import build_worker, due_review_pass
from services.scoring.jobs.rescore import run_rescore
from services.scoring.simulator.loader import load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared import queue
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.models.reviews import Review
from shared.models.scoring import CustomerRisk, Score, ScoringJob, TierConfig
from shared.topics import REVIEWS_SCORE_CHANGED


class _NoProgress:
    def __call__(self, stage: str, progress: float, *, force: bool = False) -> None:
        pass


def _timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.2f}s", flush=True)
    return elapsed, result


def _rescore(db: Database, trigger: str) -> None:
    job = ScoringJob(kind="rescore", request={"filter": {}, "trigger": trigger},
                     created_by="bench")
    run_rescore(db, job, _NoProgress())  # type: ignore[arg-type]


def _drop_review_work(db: Database) -> int:
    with db.transaction() as session:
        result = session.execute(delete(WorkItem).where(WorkItem.topic ==
                                                        REVIEWS_SCORE_CHANGED))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prepare(db: Database, customers: int, months: int) -> None:
    started = time.perf_counter()
    counts = load_into_database(db, simulate(SimConfig(customers=customers, months=months,
                                                       seed=23)))
    print(f"loaded {counts['customers']:,} customers, {counts['events']:,} events in "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    started = time.perf_counter()
    _rescore(db, "bench")
    # A score history with two dates: the first scores moved 100 days back, then a stricter
    # tier configuration rescored today, so the migration report has real transitions.
    with db.transaction() as session:
        session.execute(text("UPDATE score SET scored_at = scored_at - interval '100 days'"))
        session.add(TierConfig(version=1, thresholds={"medium": 0.015, "high": 0.06},
                               strategies={k: {"credit_limit_factor": 1.0,
                                               "payment_terms_days": 30,
                                               "discount_eligible": False,
                                               "collection_cadence": "x",
                                               "approval_level": "y"}
                                           for k in ("low", "medium", "high")},
                               created_by="bench"))
    _rescore(db, "bench-stricter")
    dropped = _drop_review_work(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    with db.sessions() as session:
        tiers = dict(session.execute(select(CustomerRisk.tier, func.count())
                                     .group_by(CustomerRisk.tier)).all())
        scores = session.scalar(select(func.count()).select_from(Score))
    print(f"scored twice in {time.perf_counter() - started:.0f}s: tiers {tiers}, "
          f"{scores:,} score history rows ({dropped:,} score-changed items set aside)",
          flush=True)


def bench_burst(db: Database, size: int, replicas: int) -> float:
    """Enqueue ``size`` worsened-tier notices and time the reviews worker(s) draining them."""
    with db.transaction() as session:
        ids = list(session.scalars(
            select(CustomerRisk.customer_id).where(
                ~select(Review.id).where(Review.customer_id == CustomerRisk.customer_id,
                                         Review.status.in_(("open", "in_progress")))
                .exists())
            .order_by(CustomerRisk.customer_id).limit(size)))
        now = utcnow().isoformat()
        queue.enqueue_batch(session, topic=REVIEWS_SCORE_CHANGED, coalesce=False,
                            now=utcnow(), items=[
                                (cid, {"customer_id": cid, "pd": 0.3, "points": 480,
                                       "tier": "high", "previous_tier": "low",
                                       "previous_pd": 0.01, "model_version": "bench",
                                       "trigger": "bench", "scored_at": now})
                                for cid in ids])
    with db.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Review)) or 0

    def drain() -> None:
        own = Database(str(db.engine.url.render_as_string(hide_password=False)))
        worker = build_worker(own)
        while worker.run_once():
            pass
        own.dispose()

    started = time.perf_counter()
    threads = [threading.Thread(target=drain) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with db.sessions() as session:
        opened = (session.scalar(select(func.count()).select_from(Review)) or 0) - before
    print(f"(c) burst of {len(ids):,} worsened tiers, {replicas} worker replica(s): "
          f"{opened:,} triggered reviews opened in {elapsed:.2f}s = "
          f"{opened / elapsed:,.0f} reviews/s", flush=True)
    record(f"burst of {len(ids):,} worsened tiers -> triggered reviews, {replicas} worker "
           "replica(s)", opened / elapsed, "reviews/s")
    return elapsed


def bench_due_pass(db: Database) -> None:
    elapsed, result = _timed("(b) nightly due-review pass", lambda: due_review_pass(db))
    print(f"    {result.opened:,} periodic reviews opened of {result.candidates:,} due",
          flush=True)
    record(f"nightly due-review pass ({result.opened:,} reviews opened)", elapsed, "s")
    _timed("(b) the same pass again (nothing new to open)", lambda: due_review_pass(db))
    # Complete a share of them, so the reviews report has completions to average.
    with db.transaction() as session:
        session.execute(text(
            "UPDATE review SET status = 'completed', decision = 'confirm', "
            "completed_by = 'bench', completed_at = opened_at + (id % 20) * interval '1 day' "
            "WHERE id % 3 = 0 AND status = 'open'"))


def bench_reports(db: Database, rounds: int) -> dict[str, float]:
    runs: dict[str, tuple[Callable[[Any], Any], type[Any]]] = {
        "portfolio": (reports.portfolio, PortfolioRow),
        "migration": (lambda s: reports.migration(s, start=None, end=None), MigrationRow),
        "aging": (reports.aging, AgingRow),
        "concentration": (lambda s: reports.concentration(s, top=10), ExposureRow),
        "reviews": (lambda s: reports.reviews(s, start=None, end=None), ReviewsRow),
    }
    medians: dict[str, float] = {}
    for name, (build, row_model) in runs.items():
        times: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            with db.transaction() as session:
                report = build(session)
            report.model_dump_json()
            csv_response(name, row_model, report.rows)
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
        record(f"portfolio report {name}, median of {rounds}", medians[name], "s",
               target="< 2 s", met=medians[name] < 2)
        print(f"(a) report {name}: median {medians[name] * 1000:,.0f} ms, best "
              f"{min(times) * 1000:,.0f} ms over {rounds} runs ({len(report.rows)} rows)",
              flush=True)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with fresh_postgres() as url:
        db = Database(url)
        try:
            prepare(db, args.customers, args.months)
            bench_burst(db, args.burst, replicas=1)
            with db.transaction() as session:  # close them, for a second burst
                session.execute(update(Review).values(status="completed",
                                                      completed_at=utcnow()))
            bench_burst(db, args.burst, replicas=2)
            bench_due_pass(db)
            medians = bench_reports(db, args.rounds)
            slowest = max(medians, key=lambda k: medians[k])
            print(f"slowest report: {slowest} {medians[slowest]:.2f}s "
                  f"(target < 2 s: {'met' if medians[slowest] < 2 else 'NOT met'})",
                  flush=True)
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
