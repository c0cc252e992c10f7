"""The request path under load (PostgreSQL, the whole stack of `riskwatch run`, `wrk` as the
load generator in its own process), with the framework's floor measured in the same run:

    floor      GET /healthz straight at the scoring service (what the framework costs)
    risk       GET /v1/customers/{id}/risk through the gateway
    decisions  POST /v1/decisions/credit through the gateway (each appends an audit entry)
    events     POST /v1/events through the gateway (one CloudEvent each)

For each: req/s, p50 / p99 (wrk's own latency histogram), and CPU per request in the gateway,
the service, PostgreSQL and wrk itself (from /proc, over the measured interval), so a run says
where the time goes and that the generator was not the limit.

    python -m bench.requests                      # all four, 32 connections, 20 s each
    python -m bench.requests --only risk,decisions --seconds 10
    python -m bench.requests --before 6faf38a     # the same on that commit first, same run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from bench.common import bench_stack, fresh_postgres, tree_of  # noqa: E402
from bench.report import record  # noqa: E402
from services.scoring.jobs.rescore import run_rescore  # noqa: E402
from services.scoring.simulator.loader import load_into_database  # noqa: E402
from services.scoring.simulator.portfolio import SimConfig, simulate  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.models.scoring import ScoringJob  # noqa: E402
from tests.stack import ADMIN_KEY, Stack  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

LUA_COMMON = """
local ids = {%(ids)s}
local n = 0
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""

LUA = {
    "floor": "",
    "risk": """
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/customers/" .. ids[n %% #ids + 1] .. "/risk")
end
""",
    "decisions": """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format('{"customer_id": "%%s", "amount": "%%d.00", "currency": "EUR"}',
    ids[n %% #ids + 1], 1000 + (n %% 50) * 500)
  return wrk.format(nil, "/v1/decisions/credit", nil, body)
end
""",
    "events": """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents+json"
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
request = function()
  n = n + 1
  local body = string.format('{"specversion": "1.0", "id": "bench-%%s-%%d", '
    .. '"source": "bench/requests", "type": "transaction.completed", "subject": "%%s", '
    .. '"time": "2026-11-30T08:00:00Z", "datacontenttype": "application/json", '
    .. '"data": {"amount": "%%d.00", "currency": "EUR", "counterparty": "ACME"}}',
    prefix, n, ids[n %% #ids + 1], 100 + n %% 900)
  return wrk.format(nil, "/v1/events", nil, body)
end
""",
}

TARGETS = {"floor": "scoring", "risk": "scoring", "decisions": "scoring", "events": "ingest"}
GOALS = {"risk": "p99 <= 30 ms", "decisions": "p99 <= 50 ms",
         "events": ">= 800/s, p99 <= 50 ms", "floor": "-"}
# The p99 (ms) and rate each goal asks for, to mark it met in the report.
GOAL_LIMITS: dict[str, tuple[float, float]] = {"risk": (30, 0), "decisions": (50, 0),
                                               "events": (50, 800)}
# Where the run of --before leaves its figures for this run to record as baselines.
BEFORE_OUT_ENV = "RISKWATCH_BENCH_REQUESTS_BEFORE"


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _with_children(pid: int) -> list[int]:
    """A process and its children: `riskwatch serve --workers N` serves from N children."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            if parent == pid:
                pids.append(int(entry.name))
    return pids


def _postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass
class Run:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms: dict[str, float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self, label: str) -> str:
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in self.cpu_ms.items())
        return (f"{label:<7}{self.name:<10} {self.rate:8,.0f} req/s  p50 {self.p50_ms:6.1f} ms"
                f"  p99 {self.p99_ms:6.1f} ms  max {self.max_ms:6.0f} ms  errors {self.errors}  "
                f"| CPU ms per request: {cpu}  | target {GOALS[self.name]}")


def run_wrk(stack: Stack, name: str, ids: list[str], *, connections: int, seconds: float,
            threads: int = 2, profile: Path | None = None) -> Run:
    script = LUA_COMMON % {"ids": ", ".join(f'"{i}"' for i in ids)} + LUA[name] % {}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    url = (stack.url("scoring") + "/healthz") if name == "floor" else stack.gateway
    service = TARGETS[name]
    watched = {"gateway": _with_children(stack.processes["gateway"].pid),
               service: _with_children(stack.processes[service].pid),
               "postgres": _postgres_pids()}
    profilers = [] if profile is None else [
        subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                          str(pids[0]), "--duration", str(max(1, round(seconds)) - 1),
                          "--format", "raw", "--rate", "200", "--subprocesses", "--gil",
                          "--output", str(profile / f"{name}-{process}.txt")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for process, pids in watched.items() if process != "postgres"]
    before = {k: _cpu_seconds(v) for k, v in watched.items()}
    started = time.perf_counter()
    children_before = os.times()
    answer = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
         "-s", handle.name, "-H", f"Authorization: Bearer {ADMIN_KEY}", url],
        capture_output=True, text=True, check=True)
    children_after = os.times()
    elapsed = time.perf_counter() - started
    os.unlink(handle.name)
    for profiler in profilers:
        profiler.wait()
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", answer.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{answer.stdout}\n{answer.stderr}")
    requests, errors, duration_us = int(match[1]), int(match[2]), int(match[3])
    cpu = {k: (_cpu_seconds(v) - before[k]) * 1000 / max(requests, 1)
           for k, v in watched.items()}
    wrk_cpu = ((children_after.children_user + children_after.children_system)
               - (children_before.children_user + children_before.children_system))
    cpu["wrk"] = wrk_cpu * 1000 / max(requests, 1)
    run = Run(name, requests, errors, duration_us / 1e6, float(match[4]), float(match[5]),
              float(match[6]), cpu)
    run.cpu_ms["wrk share of a core"] = wrk_cpu / elapsed * 100  # printed as a percentage
    return run


def run_before(ref: str, argv: list[str]) -> dict[str, list[float]]:
    """This benchmark on the tree of commit ``ref``: its code, migrations and stack; its
    rate and p99 per request kind."""
    here = Path(__file__)
    with tree_of(ref, here, here.with_name("report.py"), here.with_name("common.py")) as tree:
        out = tree / "before.json"
        index = argv.index("--before")
        rest = argv[:index] + argv[index + 2:]
        subprocess.run([sys.executable, "-m", "bench.requests", *rest, "--label", "before"],
                       cwd=tree, check=True, env={**os.environ, BEFORE_OUT_ENV: str(out)})
        found: dict[str, list[float]] = json.loads(out.read_text())
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="floor,risk,decisions,events")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", action=argparse.BooleanOptionalAction, default=True,
                        help="run the workers too, as `riskwatch run` does")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record py-spy stacks (raw, collapsed) of the gateway and the "
                             "service into this folder during each measured run")
    parser.add_argument("--before", default=None,
                        help="a commit to measure first, in the same run (its tree from git "
                             "archive, with this script copied in)")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="uvicorn processes per API process (RISKWATCH_SERVER_WORKERS)")
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    before = run_before(args.before, [a for a in sys.argv[1:]]) if args.before else {}
    results: dict[str, Run] = {}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with fresh_postgres() as url:
        db = Database(url)
        portfolio = simulate(SimConfig(customers=args.customers, months=12, seed=5))
        load_into_database(db, portfolio)
        run_rescore(db, ScoringJob(kind="rescore", request={"filter": {}, "trigger": "bench"},
                                   created_by="bench"), lambda *a, **k: None)
        ids = [c["customer_id"] for c in portfolio.customers]
        print(f"{args.customers} customers with 12 months of history loaded and scored; "
              f"wrk -c {args.connections} for {args.seconds:.0f}s each; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        server = {"RISKWATCH_SERVER_WORKERS": str(args.server_workers)}
        with bench_stack(url, with_workers=args.workers,
                         extra_env=server) as stack:
            for name in args.only.split(","):
                run_wrk(stack, name, ids, connections=args.connections, seconds=3)  # warm-up
                result = run_wrk(stack, name, ids, connections=args.connections,
                                 seconds=args.seconds, profile=args.profile)
                label = args.label or ("after" if args.before else "")
                if args.server_workers > 1:
                    label = f"{label} x{args.server_workers}".strip()
                print(result.line(label), flush=True)
                results[name] = result
        db.dispose()
    if os.environ.get(BEFORE_OUT_ENV) and args.label == "before":
        Path(os.environ[BEFORE_OUT_ENV]).write_text(json.dumps(
            {name: [r.rate, r.p99_ms] for name, r in results.items()}))
        return
    _record(results, before, ref=args.before, connections=args.connections)


def _record(results: dict[str, Run], before: dict[str, list[float]], *, ref: str | None,
            connections: int) -> None:
    """Each kind's rate and p99 beside the same run on ``ref`` (or, without one, beside
    the framework floor's rate)."""
    floor = results.get("floor")
    for name, run in results.items():
        limit_ms, limit_rate = GOAL_LIMITS.get(name, (0, 0))
        met = (run.p99_ms <= limit_ms and run.rate >= limit_rate) if limit_ms else None
        target = GOALS[name] if limit_ms else None
        if name in before:
            rate_base: tuple[str, float] | None = (f"same run on {ref}", before[name][0])
            p99_base: tuple[str, float] | None = (f"same run on {ref}", before[name][1])
        else:
            rate_base = ("framework floor", floor.rate) if floor and name != "floor" else None
            p99_base = None
        record(f"request path through the gateway, {name}, wrk -c {connections}", run.rate,
               "req/s", baseline=rate_base, target=target, met=met)
        record(f"request path, {name}, p99", run.p99_ms, "ms", baseline=p99_base,
               target=target, met=met)


if __name__ == "__main__":
    main()
