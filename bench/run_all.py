"""`make bench`: run every benchmark in bench/ one after another on PostgreSQL, then write
bench/RESULTS.md (each figure beside its same-run baseline, the ratio, the target, the
machine and the date) and, after a full run of every bench, the README's figures table.

    python -m bench.run_all                  # every bench, full size (an hour or more)
    python -m bench.run_all --quick          # every bench cut down: minutes, to check them
    python -m bench.run_all --quick --only gateway,risk_lookup
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent
# Every bench, in the order they run; each value is the arguments of a quick run (smaller
# sizes and shorter durations, the same measurements).
QUICK_ARGS: dict[str, list[str]] = {
    "gateway": ["--requests", "400"],
    "risk_lookup": ["--customers", "200", "--rounds", "1"],
    "requests": ["--customers", "500", "--seconds", "3"],
    "ingest": ["--singles", "400", "--batches", "3"],
    "bus": ["--events", "2000", "--batches", "3"],
    "scoring": ["--stack-customers", "500", "--seconds", "5", "--decisions", "500",
                "--rescore-customers", "2000", "--train-customers", "1000",
                "--train-months", "36"],
    "capacity": ["--rates", "100", "--seconds", "10", "--replicas", "1"],
    "models": ["--repeats", "1", "--folds", "3", "--trials", "3", "--seconds", "2",
               "--sim-customers", "500", "--tier-customers", "500", "--file-rows", "2000"],
    "alerts": ["--seconds", "10", "--evaluation-events", "500"],
    "drills": ["--drills", "5", "--rate", "50"],
    "reviews": ["--customers", "5000", "--burst", "1000", "--rounds", "1"],
    "audit": ["--decisions", "300", "--entries", "20000"],
    "cockpit": ["--customers", "5000", "--rounds", "3"],
    "event_scale": ["--events", "200000", "--customers", "2000", "--rounds", "2"],
}
BENCHES = tuple(QUICK_ARGS)


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def _commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="every bench with small sizes and short durations")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated benches (default all: {','.join(BENCHES)})")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(unknown)}")

    load_start = os.getloadavg()
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    statuses: dict[str, str] = {}
    commands: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="riskwatch-bench-") as scratch:
        record_file = Path(scratch) / "figures.jsonl"
        record_file.touch()
        env = {**os.environ, report.RECORD_ENV: str(record_file)}
        for name in chosen:
            extra = QUICK_ARGS[name] if args.quick else []
            command = [sys.executable, "-m", f"bench.{name}", *extra]
            commands[f"bench.{name}"] = " ".join(["python", *command[1:]])
            print(f"\n=== bench/{name}.py {' '.join(extra)}".rstrip(), flush=True)
            started = time.monotonic()
            code = subprocess.run(command, cwd=ROOT, env=env).returncode
            took = f"{time.monotonic() - started:,.0f} s"
            statuses[f"bench.{name}"] = f"ok ({took})" if code == 0 else \
                f"failed (exit {code}, {took})"
        figures = report.read_figures(record_file.read_text().splitlines())

    machine = report.Machine(cores=os.cpu_count() or 0, memory_gib=_memory_gib(),
                             load_start=load_start, load_end=os.getloadavg(), date=date,
                             commit=_commit(), quick=args.quick, benches=statuses,
                             commands=commands, every_bench=chosen == list(BENCHES))
    args.results.write_text(report.render_results(figures, machine))
    print(f"\nwrote {args.results} ({len(figures)} figures)")
    # Only a full run of every bench speaks for the product; a quick or partial run leaves
    # the README's table as it is.
    if not args.quick and chosen == list(BENCHES) and \
            all(status.startswith("ok") for status in statuses.values()):
        readme = args.readme.read_text()
        args.readme.write_text(report.replace_between_markers(
            readme, report.render_readme_table(figures, machine)))
        print(f"updated the figures table in {args.readme}")
    else:
        print("README figures table left as it is (only a full run of every bench that "
              "passes rewrites it)")
    failed = [name for name, status in statuses.items() if not status.startswith("ok")]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
