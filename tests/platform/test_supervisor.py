"""`riskwatch run` supervises: a child killed with SIGKILL comes back while the others keep
serving, and a child that can never start makes the supervisor give up with a failure."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.stack import ROOT, SERVICES, free_port

KEY = "rw_supervisor_test_key"


@contextmanager
def supervisor(tmp_path: Path, *args: str, env: dict[str, str] | None = None
               ) -> Iterator[tuple[subprocess.Popen[str], dict[str, int]]]:
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    run_env = {
        **os.environ,
        "RISKWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "RISKWATCH_BOOTSTRAP_API_KEY": KEY,
        "RISKWATCH_LOG_LEVEL": "WARNING",
        **{f"RISKWATCH_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "riskwatch", "run", "--state-dir", str(tmp_path / "state"),
         *args], env=run_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        yield process, ports
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def all_up(gateway: str) -> bool:
    try:
        services = httpx.get(f"{gateway}/healthz", timeout=2).json()["services"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return all(s["status"] == "up" for s in services.values())


def test_a_killed_service_is_restarted_while_the_others_keep_serving(tmp_path: Path) -> None:
    with supervisor(tmp_path) as (process, ports):
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        wait_for(lambda: all_up(gateway), 120, "every service up")
        status_file = tmp_path / "state" / "processes.json"
        before = json.loads(status_file.read_text())
        killed = before["ingest"]["pid"]

        os.kill(killed, signal.SIGKILL)
        answers = []

        def ingest_back() -> bool:
            # The gateway and the other services answer throughout.
            answers.append(httpx.get(f"{gateway}/v1/audit/verify",
                                     headers={"Authorization": f"Bearer {KEY}"}).status_code)
            status = json.loads(status_file.read_text())["ingest"]
            return status["pid"] != killed and status["state"] == "running" \
                and all_up(gateway)

        wait_for(ingest_back, 60, "ingest restarted and healthy")
        assert set(answers) == {200}
        after = json.loads(status_file.read_text())
        assert after["ingest"]["restarts"] == 1
        assert after["gateway"]["pid"] == before["gateway"]["pid"]
        assert after["reviews"]["pid"] == before["reviews"]["pid"]
        with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {KEY}"}) as c:
            assert c.post("/v1/customers", json={"customer_id": "c-back"}).status_code < 300

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "ingest was killed by SIGKILL" in output
    assert "ingest.log" in output
    assert "all processes stopped" in output


def test_a_service_that_never_starts_makes_the_supervisor_give_up(tmp_path: Path) -> None:
    # Something else holds ingest's port, so every start of ingest fails.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = str(blocker.getsockname()[1])
    try:
        with supervisor(tmp_path, "--max-restarts", "2", "--restart-window", "120",
                        env={"RISKWATCH_INGEST_PORT": taken}) as (process, ports):
            output, _ = process.communicate(timeout=120)
            assert process.returncode == 1, output
    finally:
        blocker.close()
    assert "ingest exited with code" in output
    assert "giving up" in output
    assert "all processes stopped" in output
    for name, port in ports.items():
        if name != "ingest":
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.ConnectError:
                continue
            raise AssertionError(f"{name} still serving after the supervisor gave up")
