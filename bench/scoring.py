"""Scoring benchmarks on PostgreSQL (loopback only, bounded loops):

(a) event -> stored score latency under a steady event rate through the gateway (the load
    generator in its own process: bench/capacity.py),
(b) full rescoring of a large simulated portfolio, against LightGBM's bare predict,
(c) credit decisions through the gateway at 32 connections,
(d) training time and out-of-time AUC on a 20,000-customer portfolio.

    python -m bench.scoring                 # everything (several minutes)
    python -m bench.scoring --only b --rescore-customers 20000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import lightgbm as lgb
import numpy as np
from sqlalchemy import delete

from bench.capacity import line, measure
from bench.common import bench_stack, closed_loop, fresh_postgres, vacuum_analyze
from bench.report import record
from services.scoring.features.definitions import FEATURE_NAMES, FEATURE_SET
from services.scoring.features.service import features_all
from services.scoring.jobs import rescore as rescore_job
from services.scoring.jobs.rescore import run_rescore
from services.scoring.models.labels import day_number, load_outcomes
from services.scoring.models.service import promote
from services.scoring.models.training import train_from_events
from services.scoring.scores import engine
from services.scoring.scores import repository as scores_repository
from services.scoring.simulator.loader import load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from services.scoring.worker import build_worker
from shared import audit
from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import ModelChampion, RiskModel, ScoringJob
from shared.topics import SCORING_EXPLAIN
from tests.stack import ADMIN_KEY


class _NoProgress:
    def __call__(self, stage: str, progress: float, *, force: bool = False) -> None:
        pass


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else np.nan


def _rescore_all(db: Database, **request: Any) -> dict[str, Any]:
    job = ScoringJob(kind="rescore", request={"filter": {}, "trigger": "bench", **request},
                     created_by="bench")
    return run_rescore(db, job, _NoProgress())  # type: ignore[arg-type]


class _Stages:
    """Seconds spent per stage of a rescore, by wrapping the functions that do each (in
    this process only; the product code is unchanged). Pages are scored on several threads
    at once, so the stages add up to more than the time elapsed. A name this tree does not
    have (an older tree's, or a newer one's) is left out."""

    WRAPPED = (("features", rescore_job, "_fetch_page"),  # before pages ran in parallel
               ("features", rescore_job, "features_for"),
               ("features", rescore_job, "stored_features_page"),
               ("reasons", engine.LightGbmScorer, "explain"),
               ("predict", engine.LightGbmScorer, "score"),
               ("writes", scores_repository, "bulk_write"),
               # A rescore of stored vectors updates its rows instead of upserting them.
               ("writes", scores_repository, "bulk_update"),
               ("writes", audit, "record_many"))

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._originals: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> _Stages:
        for stage, owner, name in self.WRAPPED:
            original = getattr(owner, name, None)
            if original is None:
                continue
            self._originals.append((owner, name, original))
            setattr(owner, name, self._timed(stage, original))
        return self

    def __exit__(self, *_: object) -> None:
        for owner, name, original in self._originals:
            setattr(owner, name, original)

    def _timed(self, stage: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:  # pages finish on several threads
                    self.seconds[stage] = self.seconds.get(stage, 0.0) + (
                        time.perf_counter() - started)
        return timed

    def shares(self, elapsed: float) -> str:
        s = dict(self.seconds)
        predict = s.get("predict", 0.0)  # score() predicts; reasons are asked for after
        parts = {"features": s.get("features", 0.0), "predict": predict,
                 "reasons": s.get("reasons", 0.0), "writes": s.get("writes", 0.0)}
        return "thread-seconds in " + ", ".join(
            f"{k} {v:.1f}s ({v / elapsed:.0%})" for k, v in parts.items())


# --- (a) + (c): the real stack ------------------------------------------------------------

def bench_latency_and_decisions(customers: int, rate: float, seconds: float,
                                decisions: int) -> None:
    with fresh_postgres() as url, bench_stack(url) as stack:
        db = Database(url)
        portfolio = simulate(SimConfig(customers=customers, months=12, seed=3))
        load_into_database(db, portfolio)
        _rescore_all(db)
        ids = [c["customer_id"] for c in portfolio.customers]
        print(f"(a) {customers} customers with 12 months of history loaded and scored",
              flush=True)
        # The generator runs in its own process and says whether it kept its schedule.
        steady = measure(stack, db, ids, rate=rate, seconds=seconds)
        print("(a)" + line(steady)[1:], flush=True)
        record(f"event -> stored score at a steady {rate:.0f} events/s, p50", steady["p50"],
               "ms")
        record(f"event -> stored score at a steady {rate:.0f} events/s, p99", steady["p99"],
               "ms")

        def request(client: httpx.AsyncClient, i: int) -> Any:
            return client.post("/v1/decisions/credit", headers={
                "Authorization": f"Bearer {ADMIN_KEY}"}, json={
                "customer_id": ids[i % len(ids)], "amount": f"{1000 + i % 50 * 500}.00",
                "currency": "EUR"})

        asyncio.run(closed_loop(concurrency=32, total=500, make_request=request,
                                base_url=stack.gateway))  # warm-up
        result = asyncio.run(closed_loop(concurrency=32, total=decisions,
                                         make_request=request, base_url=stack.gateway))
        print("(c) " + result.line("credit decisions via gateway, 32 connections"),
              flush=True)
        record("POST /v1/decisions/credit, 32 connections", result.rate, "req/s")
        record("POST /v1/decisions/credit, p99", result.pct(99), "ms")
        db.dispose()


def _load_portfolio(db: Database, label: str, *, customers: int, months: int,
                    seed: int) -> None:
    started = time.perf_counter()
    counts = load_into_database(db, simulate(SimConfig(customers=customers, months=months,
                                                       seed=seed)))
    print(f"{label} loaded {counts['customers']} customers over {months} months, "
          f"{counts['events']} events in {time.perf_counter() - started:.0f}s", flush=True)


# --- (b): full rescoring ---------------------------------------------------------------

def bench_rescoring(customers: int, months: int) -> None:
    with fresh_postgres() as url:
        db = Database(url)
        _load_portfolio(db, "(b)", customers=customers, months=months, seed=11)
        booster = _champion_from_snapshot(db)
        runs: tuple[tuple[str, dict[str, str]], ...] = (
            ("first run (all new)", {}), ("second run (steady state)", {}),
            ("stored feature vectors, same champion (nothing moves)", {"features": "stored"}))
        rates: dict[str, float] = {}
        for label, request in runs:
            vacuum_analyze(url)  # as autovacuum would between two rescores
            rates[label] = _timed_rescore(label, lambda request=request: _rescore_all(
                db, **request))
        rescoring_rate = rates["second run (steady state)"]
        # What a promotion really asks for: another model becomes champion, the product's
        # own rescore job scores the stored vectors, and every customer's score moves.
        job = _promote_a_second_model(db)
        promoted = "after a promotion: stored feature vectors, every score moves"
        vacuum_analyze(url)  # as autovacuum would between two rescores
        rates[promoted] = _timed_rescore(
            promoted, lambda: run_rescore(db, job, _NoProgress()))  # type: ignore[arg-type]
        rates[EXPLAINED] = _timed_explanations(db, customers, customers / rates[promoted])
        with db.transaction() as session:
            frame = features_all(session, as_of=utcnow())
        bare_rates = []
        for threads in (1, 2):
            started = time.perf_counter()
            booster.predict(frame.matrix, num_threads=threads)
            bare = len(frame) / (time.perf_counter() - started)
            bare_rates.append(bare)
            print(f"(b) LightGBM bare predict on the same {len(frame)} x {frame.matrix.shape[1]} "
                  f"matrix, {threads} thread(s): {bare:,.0f} rows/s; full rescoring runs at "
                  f"{rescoring_rate / bare:.1%} of it", flush=True)
        started = time.perf_counter()
        booster.predict(frame.matrix, pred_contrib=True, num_threads=1)
        print(f"(b) LightGBM pred_contrib (reasons) alone, 1 thread: "
              f"{len(frame) / (time.perf_counter() - started):,.0f} rows/s", flush=True)
        with db.transaction() as session:
            session.execute(delete(ModelChampion))
        started = time.perf_counter()
        result = _rescore_all(db)
        elapsed = time.perf_counter() - started
        print(f"(b) full rescoring with the built-in scorecard (no trees): "
              f"{result['customers']} customers in {elapsed:.1f}s = "
              f"{result['customers'] / elapsed:,.0f} customers/s", flush=True)
        bare_predict = ("bare LightGBM predict, best of 1-2 threads", max(bare_rates))
        for label, rate in rates.items():
            record(f"full rescoring of {customers:,} customers, LightGBM champion, {label}",
                   rate, "customers/s", baseline=bare_predict)
        record(f"full rescoring of {customers:,} customers, built-in scorecard",
               result["customers"] / elapsed, "customers/s")
        db.dispose()


EXPLAINED = "after a promotion: scores, then the moved scores explained and notified"


def _timed_explanations(db: Database, customers: int, scoring_seconds: float) -> float:
    """The second half of a promotion's rescore: the scoring worker's explain loop (its own
    thread in a running worker), run here until ``scoring.explain`` is empty. Returns
    customers/s over both halves, scores and explanations."""
    explain = next(c for c in build_worker(db).consumers if c.topics == [SCORING_EXPLAIN])
    with _Stages() as stages:
        started = time.perf_counter()
        explained = 0
        while claimed := explain.run_once():
            explained += claimed
        elapsed = time.perf_counter() - started
    total = scoring_seconds + elapsed
    print(f"(b) ... then the explain loop: {explained} moved scores explained and their "
          f"notices sent in {elapsed:.1f}s = {explained / max(elapsed, 1e-9):,.0f}/s; "
          f"{stages.shares(elapsed)}. Every score current after {scoring_seconds:.1f}s, "
          f"every reason and notice after {total:.1f}s", flush=True)
    return customers / total


def _timed_rescore(label: str, rescore: Callable[[], dict[str, Any]]) -> float:
    with _Stages() as stages:
        started = time.perf_counter()
        result = rescore()
        elapsed = time.perf_counter() - started
    print(f"(b) full rescoring with the LightGBM champion, {label}: "
          f"{result['customers']} customers in {elapsed:.1f}s = "
          f"{result['customers'] / elapsed:,.0f} customers/s; "
          f"{stages.shares(elapsed)}", flush=True)
    return float(result["customers"] / elapsed)


def _snapshot_booster(db: Database, *, horizon_days: int, num_leaves: int,
                      rounds: int) -> lgb.Booster:
    """A LightGBM default model trained on the features of 90 days ago and what followed."""
    as_of = utcnow() - dt.timedelta(days=90)
    with db.transaction() as session:
        frame = features_all(session, as_of=as_of)
        outcomes = load_outcomes(session, target="default")
    day = day_number(as_of)
    labels = [outcomes.label(c, day, horizon=horizon_days, inactivity_days=None)
              for c in frame.customer_ids]
    keep = np.array([label is not None for label in labels]) & frame.active
    y = np.array([bool(label) for label in labels])[keep].astype(float)
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 2,
                      "num_leaves": num_leaves, "learning_rate": 0.05},
                     lgb.Dataset(frame.matrix[keep], y), rounds)


def _registered(booster: lgb.Booster, *, name: str, status: str) -> RiskModel:
    return RiskModel(name=name, target="default", source="events", status=status,
                     feature_set=FEATURE_SET, feature_set_version=1,
                     features=list(FEATURE_NAMES), categories={}, params={},
                     model_text=booster.model_to_string(), report={}, reference={},
                     created_by="bench", created_at=utcnow())


def _promote_a_second_model(db: Database) -> ScoringJob:
    """Train another default model on the same snapshot (other label and settings, so
    every PD moves), promote it as the API does, and return the rescore job it made."""
    booster = _snapshot_booster(db, horizon_days=180, num_leaves=31, rounds=150)
    with db.transaction() as session:
        model = _registered(booster, name="bench successor", status="candidate")
        session.add(model)
        session.flush()
        promotion = promote(session, model_id=model.id, actor="bench")
        job = session.get(ScoringJob, promotion.rescore_job_id)
        assert job is not None
        session.expunge(job)
    return job


def _champion_from_snapshot(db: Database) -> lgb.Booster:
    """A real LightGBM champion (trained on a 90-day default label) so (b) scores with
    trees and their contributions, not the scorecard."""
    booster = _snapshot_booster(db, horizon_days=90, num_leaves=15, rounds=200)
    with db.transaction() as session:
        model = _registered(booster, name="bench champion", status="champion")
        session.add(model)
        session.flush()
        session.add(ModelChampion(target="default", model_id=model.id, promoted_by="bench",
                                  promoted_at=utcnow()))
    return booster


# --- (d): training ---------------------------------------------------------------------

def bench_training(customers: int, months: int) -> None:
    with fresh_postgres() as url:
        db = Database(url)
        _load_portfolio(db, "(d)", customers=customers, months=months, seed=17)
        job = ScoringJob(kind="train", created_by="bench",
                         request={"target": "default", "horizon_days": 365})
        started = time.perf_counter()
        result = train_from_events(db, job, _NoProgress())  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        with db.transaction() as session:
            report = session.get(RiskModel, result["model_id"]).report  # type: ignore[union-attr]
        print(f"(d) training (snapshots + LightGBM + validation): {elapsed:.0f}s; "
              f"train {report['train']['rows']} rows {report['train']['period']}, "
              f"test {report['test']['rows']} rows {report['test']['period']}; "
              f"out-of-time AUC {report['metrics']['auc']:.3f}, KS {report['metrics']['ks']:.3f},"
              f" Brier {report['metrics']['brier']:.4f}", flush=True)
        record(f"training, {customers:,} customers x {months} months", elapsed, "s")
        record("trained model, out-of-time AUC", report["metrics"]["auc"], "")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="a,b,c,d", help="comma-separated sections")
    parser.add_argument("--stack-customers", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--decisions", type=int, default=10000)
    parser.add_argument("--rescore-customers", type=int, default=100_000)
    parser.add_argument("--rescore-months", type=int, default=6)
    parser.add_argument("--train-customers", type=int, default=20_000)
    parser.add_argument("--train-months", type=int, default=36)
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only & {"a", "c"}:
        bench_latency_and_decisions(args.stack_customers, args.rate, args.seconds,
                                    args.decisions)
    if "b" in only:
        bench_rescoring(args.rescore_customers, args.rescore_months)
    if "d" in only:
        bench_training(args.train_customers, args.train_months)


if __name__ == "__main__":
    main()
