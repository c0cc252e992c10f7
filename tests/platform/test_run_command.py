"""`riskwatch run` (what `make run` calls) brings up every process and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.stack import ROOT, SERVICES, free_port


def test_run_starts_everything_on_sqlite_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    env = {
        **os.environ,
        "RISKWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "RISKWATCH_BOOTSTRAP_API_KEY": "rw_run_test_key",
        **{f"RISKWATCH_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    env.pop("RISKWATCH_INTERNAL_SECRET", None)  # the runner makes one for its children
    runner = subprocess.Popen([sys.executable, "-m", "riskwatch", "run", "--state-dir",
                               str(tmp_path / "state")], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    try:
        banner = _read_until(runner, "Ctrl-C stops everything", timeout=90)
        assert gateway in banner and f"{gateway}/docs" in banner
        assert "rw_run_test_key" in banner
        health = httpx.get(f"{gateway}/healthz").json()
        assert {n: s["status"] for n, s in health["services"].items()} == dict.fromkeys(
            SERVICES, "up")
        assert httpx.get(f"{gateway}/v1/audit/verify").status_code == 401
        ok = httpx.get(f"{gateway}/v1/audit/verify",
                       headers={"Authorization": "Bearer rw_run_test_key"})
        assert ok.status_code == 200
    finally:
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
    assert runner.returncode == 0
    assert "all processes stopped" in output
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if marker in line:
                return "".join(seen)
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError("runner did not come up:\n" + "".join(seen))
