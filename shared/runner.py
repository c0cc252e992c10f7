"""``riskwatch run`` (what ``make run`` calls): migrate, then supervise the gateway, the four
services and their workers as separate processes until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.auth import ensure_bootstrap_key
from shared.db import Database, is_sqlite
from shared.migrate import upgrade
from shared.settings import PROJECT_ROOT, get_settings

SERVICES = ("ingest", "scoring", "alerts", "reviews")
ADMIN_KEY_FILE = PROJECT_ROOT / "var" / "admin-key"


def _admin_key() -> str:
    configured = get_settings().bootstrap_api_key
    if configured:
        return configured
    if ADMIN_KEY_FILE.exists():
        return ADMIN_KEY_FILE.read_text().strip()
    ADMIN_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    key = "rw_" + secrets.token_urlsafe(32)
    ADMIN_KEY_FILE.write_text(key + "\n")
    ADMIN_KEY_FILE.chmod(0o600)
    return key


def _has_worker(service: str) -> bool:
    return (PROJECT_ROOT / "services" / service / "worker.py").exists()


def run_stack(*, with_workers: bool = True) -> int:
    settings = get_settings()
    upgrade(settings.database_url)
    admin_key = _admin_key()
    db = Database()
    with db.transaction() as session:
        ensure_bootstrap_key(session, admin_key)
    db.dispose()

    env = dict(os.environ)
    env.setdefault("RISKWATCH_INTERNAL_SECRET", secrets.token_urlsafe(32))
    env["RISKWATCH_DATABASE_URL"] = settings.database_url
    env.pop("RISKWATCH_BOOTSTRAP_API_KEY", None)  # created above; children need not see it
    python = sys.executable
    commands: dict[str, list[str]] = {
        name: [python, "-m", "shared.cli", "serve", name] for name in (*SERVICES, "gateway")
    }
    if with_workers:
        for name in SERVICES:
            if _has_worker(name):
                commands[f"{name}-worker"] = [python, "-m", "shared.cli", "worker", name]

    log_dir = PROJECT_ROOT / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, command in commands.items():
            log_file = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by child
            children[name] = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT,
                                              stdout=log_file, stderr=subprocess.STDOUT,
                                              start_new_session=True)
        gateway = f"http://{settings.host}:{settings.gateway_port}"
        if _wait_healthy(gateway, children, lambda: stopping):
            _print_banner(gateway, admin_key, settings.database_url, log_dir)
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"riskwatch: {name} exited with {child.returncode}; "
                          f"see {log_dir / (name + '.log')}. Stopping.", file=sys.stderr)
                    stopping = True
                    break
            time.sleep(0.3)
    finally:
        _stop_all(children)
    return 0


def _wait_healthy(gateway: str, children: dict[str, subprocess.Popen[bytes]],
                  stopping: object) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if callable(stopping) and stopping():
            return False
        if any(c.poll() is not None for c in children.values()):
            return False
        try:
            body = httpx.get(f"{gateway}/healthz", timeout=2).json()
            if all(s.get("status") == "up" for s in body.get("services", {}).values()):
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    return False


def _print_banner(gateway: str, admin_key: str, database_url: str, log_dir: Path) -> None:
    engine = "SQLite (embedded)" if is_sqlite(database_url) else "PostgreSQL"
    print(
        f"""
riskwatch is up on {engine}.
  gateway   {gateway}
  API docs  {gateway}/docs
  health    {gateway}/healthz
  admin key {admin_key}
  logs      {log_dir}/

Try:
  curl -H "Authorization: Bearer {admin_key}" {gateway}/v1/audit/verify

Ctrl-C stops everything.""",
        flush=True,
    )


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("riskwatch: all processes stopped.", flush=True)
