"""``riskwatch demo`` (``make demo``): a working product in minutes, on top of ``make run`` or
any running stack, driven only through the gateway's public API as a real client would:

1. simulate a portfolio (default 2,000 customers over 24 months) and push its profiles and
   events through the gateway, with a progress bar;
2. wait for the workers to score everyone and evaluate the alert rules;
3. train the default and churn models and promote each if it beats what scores now;
4. start a drill of the customer-default playbook (when the playbooks API is there);
5. print a summary: customers per tier, the ten riskiest with their reasons, open alerts,
   playbook runs, open reviews, model AUCs, the latest audit checkpoint, and where to look.

Running it twice adds nothing: customers are upserted, events de-duplicated on their id, and
a target that already has a trained champion is not trained again.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

BAR_WIDTH = 30
PROMOTE_FROM_AUC = 0.65


class DemoError(RuntimeError):
    pass


class Api:
    def __init__(self, gateway: str, key: str) -> None:
        self.gateway = gateway.rstrip("/")
        self.client = httpx.Client(base_url=self.gateway, timeout=60,
                                   headers={"Authorization": f"Bearer {key}"})
        self._paths: set[str] | None = None

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params or None)
        if answer.status_code >= 400:
            raise DemoError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def post(self, path: str, body: Any = None) -> Any:
        answer = self.client.post(path, json=body if body is not None else {})
        if answer.status_code >= 400:
            raise DemoError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def has_path(self, path: str) -> bool:
        if self._paths is None:  # the stack's routes do not change while the demo runs
            self._paths = set(self.get("/openapi.json").get("paths", {}))
        return path in self._paths


def bar(label: str, done: float, total: float, extra: str = "") -> None:
    share = 0.0 if total <= 0 else min(done / total, 1.0)
    filled = int(share * BAR_WIDTH)
    sys.stderr.write(f"\r  {label:<28} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                     f"{share:6.1%} {extra:<40}")
    sys.stderr.flush()
    if share >= 1.0:
        sys.stderr.write("\n")


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def wait_until(check: Callable[[], tuple[bool, float, str]], *, label: str,
               timeout: float, interval: float = 1.0) -> None:
    """Poll ``check`` (done?, share, text) with a progress bar until done or ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, share, text = check()
        bar(label, share if not done else 1.0, 1.0, text)
        if done:
            return
        if time.monotonic() > deadline:
            sys.stderr.write("\n")
            raise DemoError(f"{label}: not done after {timeout:.0f}s ({text})")
        time.sleep(interval)


# --- the steps ----------------------------------------------------------------------------

def push_portfolio(api: Api, key: str, customers: int, months: int, seed: int) -> list[str]:
    from services.scoring.simulator.loader import push_through_api
    from services.scoring.simulator.portfolio import SimConfig, simulate

    step(f"Simulating {customers:,} customers over {months} months and sending them through "
         f"the gateway")
    portfolio = simulate(SimConfig(customers=customers, months=months, seed=seed))
    started = time.monotonic()

    def progress(counts: dict[str, int], total: int) -> None:
        sent = sum(counts.values())
        rate = sent / max(time.monotonic() - started, 1e-6)
        bar("profiles and events", sent, total, f"{sent:,}/{total:,} ({rate:,.0f}/s)")

    # Two batches in flight: one is parsed while the other is written.
    counts = push_through_api(portfolio, gateway=api.gateway, api_key=key, progress=progress,
                              concurrency=2)
    print(f"  sent {counts['customers']:,} profiles, {counts['outlooks']:,} industry outlooks "
          f"and {counts['events']:,} events in {time.monotonic() - started:.0f}s")
    return [c["customer_id"] for c in portfolio.customers]


def queue_backlog(api: Api) -> int:
    rows = api.get("/v1/queue/depth")
    return sum(int(row.get("count", 0)) for row in rows
               if row.get("status") == "pending")


def wait_for_workers(api: Api, *, timeout: float) -> None:
    step("Waiting for the workers to score every customer and evaluate the alert rules")
    first = max(queue_backlog(api), 1)

    def check() -> tuple[bool, float, str]:
        left = queue_backlog(api)
        return left == 0, 1 - left / first, f"{left:,} work items left"

    wait_until(check, label="queued work", timeout=timeout)


def champion(api: Api, target: str) -> dict[str, Any] | None:
    found = api.get("/v1/models", target=target, status="champion")
    return found[0] if found else None


DEMO_HORIZON_DAYS = 180


def train_and_promote(api: Api, target: str, *, timeout: float) -> str:
    current = champion(api, target)
    if current is not None and current.get("source") == "events":
        return (f"{target}: champion {current['name']} already trained (AUC "
                f"{_auc(current)}); not trained again")
    # Six months ahead, not the API's default year: two years of history hold no test period
    # a year after a training period whose year of outcomes has ended (the embargo). A short
    # tuning budget keeps the first five minutes within five minutes on two cores.
    job = api.post("/v1/models/train", {
        "target": target, "horizon_days": DEMO_HORIZON_DAYS, "tuning_trials": 10,
        "tuning_seconds": 10, "name": f"demo {target} model"})

    def check() -> tuple[bool, float, str]:
        nonlocal job
        job = api.get(f"/v1/models/jobs/{job['id']}")
        finished = job["status"] in ("succeeded", "failed")
        return finished, float(job["progress"]), str(job["stage"])[:40]

    wait_until(check, label=f"training the {target} model", timeout=timeout)
    if job["status"] == "failed":  # e.g. too few bads in a small portfolio
        return f"{target}: training failed ({job['error']}); the scorecard keeps scoring"
    model = api.get(f"/v1/models/{job['model_id']}")
    auc = (model.get("metrics") or {}).get("auc")
    # The built-in scorecard has no AUC of its own here: promote a model that separates good
    # from bad customers clearly better than chance out of time.
    if auc is not None and auc >= PROMOTE_FROM_AUC:
        api.post(f"/v1/models/{model['id']}/promote")
        return f"{target}: model {model['id']} trained, out-of-time AUC {auc:.3f}, promoted"
    return f"{target}: model {model['id']} trained, out-of-time AUC {_auc(model)}; kept " \
           f"the scorecard"


def _auc(model: dict[str, Any]) -> str:
    auc = (model.get("metrics") or {}).get("auc")
    return "n/a" if auc is None else f"{auc:.3f}"


def wait_for_rescore(api: Api, *, timeout: float) -> None:
    def check() -> tuple[bool, float, str]:
        jobs = [j for j in api.get("/v1/scoring/jobs", kind="rescore")
                if j["status"] in ("queued", "running", "retrying")]
        share = min((float(j["progress"]) for j in jobs), default=1.0)
        return not jobs, share, f"{len(jobs)} rescoring job(s) running"

    wait_until(check, label="rescoring with the new models", timeout=timeout)


def run_drill(api: Api, *, timeout: float) -> str:
    if not api.has_path("/v1/drills"):
        return "drills: not available on this stack"
    playbooks = api.get("/v1/playbooks")
    chosen = next((p for p in playbooks if "default" in str(p.get("name", "")).lower()),
                  playbooks[0] if playbooks else None)
    if chosen is None:
        return "drills: no playbook to rehearse"
    drill = api.post("/v1/drills", {"playbook_id": chosen["id"]})

    def check() -> tuple[bool, float, str]:
        nonlocal drill
        drill = api.get(f"/v1/drills/{drill['id']}")
        if drill["status"] == "send_failed":
            raise DemoError(f"the drill's events were refused: {drill.get('send_error')}")
        detected = drill.get("alert_id") is not None
        return detected, 0.5 if drill.get("sent_at") else 0.1, str(drill["status"])

    wait_until(check, label="drill: event → alert", timeout=timeout, interval=0.2)
    detect = drill.get("seconds_to_detect")
    return (f"drill {drill['id']} of '{chosen['name']}' on synthetic customer "
            f"{drill['customer_id']}: alert {drill['alert_id']} raised"
            + (f" {detect:.2f}s after ingest stored the event" if detect is not None else "")
            + (f", playbook run {drill['run_id']} started" if drill.get("run_id") else ""))


def riskiest(api: Api, ids: list[str]) -> list[dict[str, Any]]:
    """Every customer's current risk through GET /risk, riskiest first."""
    def risk(customer_id: str) -> dict[str, Any] | None:
        answer = api.client.get(f"/v1/customers/{customer_id}/risk")
        return answer.json() if answer.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=8) as pool:
        risks = [r for r in pool.map(risk, ids) if r is not None]
    return sorted(risks, key=lambda r: r["pd_default"], reverse=True)


def summary(api: Api, ids: list[str], notes: list[str]) -> None:
    step("Summary")
    rows = api.get("/v1/reports/portfolio").get("rows", [])
    tiers: dict[str, int] = {}
    for row in rows:
        if row.get("dimension") == "tier":
            tiers[row["value"]] = tiers.get(row["value"], 0) + int(row.get("customers", 0))
    print("  customers per tier: " + ", ".join(f"{t} {tiers.get(t, 0):,}"
                                                 for t in ("low", "medium", "high")))
    risks = riskiest(api, ids)
    defaulted = [r for r in risks if r.get("reasons") and
                 r["reasons"][0].get("feature") == "in_default"]
    print(f"  in default: {len(defaulted):,}; the ten riskiest of the others:")
    for risk in [r for r in risks if r not in defaulted][:10]:
        reason = (risk.get("reasons") or [{}])[0].get("text", "")
        print(f"    {risk['customer_id']:<12} {risk['tier']:<6} PD {risk['pd_default']:6.1%}  "
              f"{risk['points']:>4} pts  {reason}")
    counts = api.get("/v1/alerts/counts")
    open_alerts = counts.get("unresolved_by_severity", {})
    print("  open alerts: " + ", ".join(f"{k} {v:,}" for k, v in open_alerts.items()))
    if api.has_path("/v1/playbook-runs"):
        open_runs = api.get("/v1/playbook-runs", status="open", drill="false",
                            limit=200)["items"]
        print(f"  playbook runs in progress: {len(open_runs)}"
              f"{'+' if len(open_runs) == 200 else ''}")
    reviews = api.get("/v1/reviews", status="open", limit=200).get("items", [])
    print(f"  open reviews: {len(reviews)}{'+' if len(reviews) == 200 else ''}")
    for note in notes:
        print(f"  {note}")
    try:
        checkpoint = api.get("/v1/audit/checkpoint")
        print(f"  audit log: {checkpoint.get('tree_size'):,} entries under the latest signed "
              f"checkpoint, root {checkpoint.get('root_hash', '')[:16]}…")
    except DemoError:
        print("  audit log: no checkpoint yet")
    print(f"\nWhere to look:\n  API docs  {api.gateway}/docs")
    if api.client.get("/ui/sign-in").status_code == 200:  # the cockpit runs
        print(f"  cockpit   {api.gateway}/ui/")


def run(args: argparse.Namespace) -> int:
    from riskwatch.supervisor import DEFAULT_STATE_DIR
    from shared.settings import get_settings

    settings = get_settings()
    gateway = args.gateway or f"http://{settings.host}:{settings.gateway_port}"
    key = args.key or _key_from_state(args.state_dir or DEFAULT_STATE_DIR)
    if key is None:
        print("error: no API key: pass --key, or run `make run` first (it keeps its admin "
              "key in var/admin-key)", file=sys.stderr)
        return 2
    api = Api(gateway, key)
    started = time.monotonic()
    try:
        try:
            api.client.get("/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise DemoError(f"no riskwatch gateway at {gateway} ({exc.__class__.__name__}): "
                            f"start it with `make run` in another terminal") from exc
        ids = push_portfolio(api, key, args.customers, args.months, args.seed)
        wait_for_workers(api, timeout=args.timeout)
        step("Training the default and churn models from the stored events")
        notes = [train_and_promote(api, target, timeout=args.timeout)
                 for target in ("default", "churn")]
        for note in notes:
            print(f"  {note}")
        wait_for_rescore(api, timeout=args.timeout)
        wait_for_workers(api, timeout=args.timeout)
        step("Rehearsing the customer-default playbook")
        notes.append(run_drill(api, timeout=60))
        print(f"  {notes[-1]}")
        summary(api, ids, notes)
    except DemoError as exc:
        print(f"\ndemo stopped: {exc}", file=sys.stderr)
        return 1
    print(f"\nThe demo took {time.monotonic() - started:.0f}s.")
    return 0


def _key_from_state(state_dir: Path) -> str | None:
    key_file = state_dir / "admin-key"
    return key_file.read_text().strip() if key_file.exists() else None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="load a simulated portfolio through the API and show the product at work",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=None,
                        help="the gateway URL (default: the one `riskwatch run` starts)")
    parser.add_argument("--key", default=None,
                        help="an API key with admin scope (default: var/admin-key)")
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for each background step")
    parser.set_defaults(func=run)
