"""``riskwatch simulate``: generate a portfolio into the database, to files or through the API."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.scoring.simulator.loader import (
        load_into_database,
        push_through_api,
        write_files,
    )
    from services.scoring.simulator.portfolio import SimConfig, simulate

    end = dt.date.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC).date()
    portfolio = simulate(SimConfig(customers=args.customers, months=args.months,
                                   seed=args.seed, end=end, id_prefix=args.id_prefix))
    started = time.perf_counter()
    counts: dict[str, Any]
    if args.out:
        paths = write_files(portfolio, Path(args.out), fmt=args.format)
        counts = {name: str(path) for name, path in paths.items()}
    elif args.gateway:
        key = args.api_key or os.environ.get("RISKWATCH_API_KEY")
        if not key:
            print("error: --api-key (or RISKWATCH_API_KEY) is required with --gateway",
                  file=sys.stderr)
            return 2
        counts = push_through_api(portfolio, gateway=args.gateway, api_key=key)
    else:
        from shared.db import Database

        db = Database()
        try:
            counts = load_into_database(db, portfolio)
        finally:
            db.dispose()
    elapsed = time.perf_counter() - started
    print(f"simulated {args.customers} customers over {args.months} months "
          f"({portfolio.config.start} .. {end}, seed {args.seed}) in {elapsed:.1f}s")
    for name, value in counts.items():
        print(f"  {name}: {value}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate", help="generate a deterministic B2B portfolio (customers and events)",
        description="Into the database by default; --out writes files; --gateway posts them "
                    "through the public API like a CRM would.")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", default=None, help="last simulated day (default: today)")
    parser.add_argument("--id-prefix", default="sim-")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", default=None, help="directory for files instead of the DB")
    target.add_argument("--gateway", default=None, help="gateway URL to post through")
    parser.add_argument("--format", choices=("csv", "ndjson"), default="ndjson")
    parser.add_argument("--api-key", default=None, help="key with ingest:write (--gateway)")
    parser.set_defaults(func=cmd_simulate)
