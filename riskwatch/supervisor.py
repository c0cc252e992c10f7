"""``riskwatch run`` (what ``make run`` calls): migrate, then supervise every process of the
registry (gateway, services, workers) as separate children until Ctrl-C or SIGTERM.

A child that dies is restarted with exponential backoff while the others keep serving; the
reason (exit code or signal, log file) is printed. When one child needs more than
``max_restarts`` restarts within ``restart_window`` seconds the supervisor gives up: it
stops everything and exits 1, so a process manager above it (systemd, a shell loop, CI)
sees the failure. Ctrl-C / SIGTERM stop everything and exit 0.

``<state dir>/processes.json`` says, at every change, each child's pid, state and restart
count, for operators and for the tests that kill a child on purpose.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from riskwatch.processes import SERVICES, WORKERS
from shared.auth import ensure_bootstrap_key
from shared.db import Database, is_sqlite
from shared.migrate import upgrade
from shared.settings import PROJECT_ROOT, get_settings

DEFAULT_STATE_DIR = PROJECT_ROOT / "var"
STATUS_FILE = "processes.json"
# The first restart waits this long, each further restart within the window twice as long.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
POLL_SECONDS = 0.2


@dataclass
class Child:
    """One supervised process and its restart history."""

    name: str
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    log_file: IO[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        if self.log_file is None:
            self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        # A session of its own: Ctrl-C in the terminal reaches the supervisor only, which
        # then stops the children in order.
        self.process = subprocess.Popen(self.command, env=env, cwd=PROJECT_ROOT,
                                        stdout=self.log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.restart_at = None

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def close(self) -> None:
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


class GaveUp(Exception):
    """A child kept dying: more restarts than allowed within the window."""


@dataclass
class Supervisor:
    children: dict[str, Child]
    env: dict[str, str]
    status_path: Path
    max_restarts: int
    restart_window: float

    def start_all(self) -> None:
        for child in self.children.values():
            child.start(self.env)
        self.write_status()

    def tick(self, now: float | None = None) -> None:
        """Notice children that died, schedule their restart, start those whose wait is over.
        Raises GaveUp when a child exceeds its restart budget."""
        now = time.monotonic() if now is None else now
        changed = False
        for child in self.children.values():
            if child.restart_at is None and child.exited():
                self._schedule_restart(child, now)
                changed = True
            elif child.restart_at is not None and child.restart_at <= now:
                child.start(self.env)
                say(f"{child.name} restarted (pid {child.process and child.process.pid})")
                changed = True
        if changed:
            self.write_status()

    def _schedule_restart(self, child: Child, now: float) -> None:
        assert child.process is not None
        while child.restarts and child.restarts[0] < now - self.restart_window:
            child.restarts.popleft()
        why = describe_exit(child.process.returncode)
        if len(child.restarts) >= self.max_restarts:
            raise GaveUp(
                f"{child.name} {why} and was restarted {len(child.restarts)} times within "
                f"{self.restart_window:g}s; giving up. See {child.log_path}")
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** len(child.restarts))
        child.restarts.append(now)
        child.restart_at = now + delay
        say(f"{child.name} {why}; see {child.log_path}. Restarting in {delay:g}s "
            f"(restart {len(child.restarts)} of at most {self.max_restarts} "
            f"within {self.restart_window:g}s).")

    def write_status(self) -> None:
        status = {
            name: {
                "pid": child.process.pid if child.process else None,
                "state": "restarting" if child.restart_at is not None else "running",
                "restarts": len(child.restarts),
                "log": str(child.log_path),
            }
            for name, child in self.children.items()
        }
        partial = self.status_path.with_suffix(".tmp")
        partial.write_text(json.dumps(status, indent=2))
        partial.replace(self.status_path)  # readers never see a half-written file

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.close()
        self.status_path.unlink(missing_ok=True)
        say("all processes stopped.")


def say(message: str) -> None:
    print(f"riskwatch: {message}", file=sys.stderr, flush=True)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def commands(*, with_workers: bool) -> dict[str, list[str]]:
    """The command line of every process of the registry, as children of this Python."""
    python = [sys.executable, "-m", "riskwatch"]
    result = {app.name: [*python, "serve", app.name] for app in SERVICES}
    result["gateway"] = [*python, "serve", "gateway"]
    if with_workers:
        for worker in WORKERS:
            result[worker.name] = [*python, "worker", worker.argument]
    return result


def admin_key(state_dir: Path) -> str:
    configured = get_settings().bootstrap_api_key
    if configured:
        return configured
    key_file = state_dir / "admin-key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = "rw_" + secrets.token_urlsafe(32)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def run_stack(*, with_workers: bool = True, max_restarts: int = 5,
              restart_window: float = 60.0, state_dir: Path | None = None) -> int:
    settings = get_settings()
    state_dir = state_dir or DEFAULT_STATE_DIR
    log_dir = state_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    key = admin_key(state_dir)
    db = Database()
    with db.transaction() as session:
        ensure_bootstrap_key(session, key)
    db.dispose()

    env = dict(os.environ)
    env.setdefault("RISKWATCH_INTERNAL_SECRET", secrets.token_urlsafe(32))
    env["RISKWATCH_DATABASE_URL"] = settings.database_url
    env.pop("RISKWATCH_BOOTSTRAP_API_KEY", None)  # created above; children need not see it
    supervisor = Supervisor(
        children={name: Child(name, command, log_dir / f"{name}.log")
                  for name, command in commands(with_workers=with_workers).items()},
        env=env, status_path=state_dir / STATUS_FILE, max_restarts=max_restarts,
        restart_window=restart_window)

    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    gateway = f"http://{settings.host}:{settings.gateway_port}"
    announced = False
    try:
        supervisor.start_all()
        while not stopping:
            supervisor.tick()
            if not announced and _healthy(gateway):
                _print_banner(gateway, key, settings.database_url, log_dir)
                announced = True
            time.sleep(POLL_SECONDS)
    except GaveUp as exc:
        say(str(exc))
        return 1
    finally:
        supervisor.stop_all()
    return 0


def _healthy(gateway: str) -> bool:
    try:
        body = httpx.get(f"{gateway}/healthz", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    services = body.get("services", {})
    return bool(services) and all(s.get("status") == "up" for s in services.values())


def _print_banner(gateway: str, key: str, database_url: str, log_dir: Path) -> None:
    engine = "SQLite (embedded)" if is_sqlite(database_url) else "PostgreSQL"
    print(
        f"""
riskwatch is up on {engine}.
  gateway   {gateway}
  API docs  {gateway}/docs
  cockpit   {gateway}/ui/  (sign in with the admin key)
  health    {gateway}/healthz
  admin key {key}
  logs      {log_dir}/

Try:
  curl -H "Authorization: Bearer {key}" {gateway}/v1/audit/verify

A process that dies is restarted; Ctrl-C stops everything.""",
        flush=True,
    )
