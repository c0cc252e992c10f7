"""Start the real processes (gateway, services, workers) on free ports for tests and benches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from riskwatch.processes import GATEWAY, SERVICE_NAMES, WORKERS
from shared.auth import ensure_bootstrap_key
from shared.db import Database

ROOT = Path(__file__).resolve().parent.parent
SERVICES = SERVICE_NAMES
ADMIN_KEY = "rw_test_admin_key_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    database_url: str
    env: dict[str, str]
    ports: dict[str, int]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    admin_key: str = ADMIN_KEY

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.gateway, headers=self.headers(key), timeout=30,
                            **kwargs)  # type: ignore[arg-type]

    def ensure_admin_key(self, db: Database) -> None:
        with db.transaction() as session:
            ensure_bootstrap_key(session, self.admin_key)

    def start(self, name: str) -> None:
        is_worker = name in self.worker_names()
        if is_worker:
            command = [sys.executable, "-m", "riskwatch", "worker", name]  # a process name
        else:
            command = [sys.executable, "-m", "riskwatch", "serve", name,
                       "--port", str(self.ports[name])]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[name] = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log,
                                                stderr=subprocess.STDOUT)
        if not is_worker:
            wait_for_http(f"http://127.0.0.1:{self.ports[name]}/healthz", self, name)

    def start_replica(self, worker: str, index: int) -> None:
        """Another replica of a worker process (tracked as ``<worker>#<index>``)."""
        name = f"{worker}#{index}"
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "riskwatch", "worker", worker], env=self.env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT)

    def worker_names(self) -> list[str]:
        return [worker.name for worker in WORKERS]

    def start_workers(self) -> None:
        for name in self.worker_names():
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                self.start(name)

    def stop_workers(self) -> None:
        for name in self.worker_names():
            self.stop(name)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for_http(url: str, stack: Stack, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = stack.processes.get(name)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{stack.log(name)[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} not healthy after {timeout}s:\n{stack.log(name)[-3000:]}")


@contextmanager
def start_stack(
    database_url: str, *, internal_secret: str, with_workers: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    ports = {name: free_port() for name in (*SERVICES, GATEWAY.name)}
    env = dict(os.environ)
    env.update({
        "RISKWATCH_DATABASE_URL": database_url,
        "RISKWATCH_INTERNAL_SECRET": internal_secret,
        "RISKWATCH_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "RISKWATCH_LOG_LEVEL": "WARNING",
        "RISKWATCH_KEY_CACHE_SECONDS": "1",
        "RISKWATCH_WORKER_POLL_SECONDS": "0.05",
        "RISKWATCH_GATEWAY_PORT": str(ports["gateway"]),
        **{f"RISKWATCH_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **(extra_env or {}),
    })
    log_dir = Path(tempfile.mkdtemp(prefix="riskwatch-stack-"))
    stack = Stack(database_url=database_url, env=env, ports=ports, log_dir=log_dir)
    try:
        for name in SERVICES:
            stack.start(name)
        stack.start(GATEWAY.name)
        if with_workers:
            stack.start_workers()
        yield stack
    finally:
        for name in list(stack.processes):
            stack.stop(name)
