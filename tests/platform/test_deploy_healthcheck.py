"""`riskwatch healthcheck` (the image's HEALTHCHECK, worker pods' readiness) finds the process
it checks from that process's command line and checks it for real: an API's /healthz or
/readyz on its port, a worker's database reachable and migrated."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.migrate import upgrade
from tests.stack import ROOT, free_port


def environment(database: Path) -> dict[str, str]:
    return {**os.environ, "RISKWATCH_DATABASE_URL": f"sqlite:///{database}",
            "RISKWATCH_ENV": "test"}


@contextmanager
def running(command: list[str], database: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "riskwatch", *command], cwd=ROOT,
                               env=environment(database), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def healthcheck(pid: int, database: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "riskwatch", "healthcheck", "--pid", str(pid),
                           *flags], cwd=ROOT, env=environment(database), capture_output=True,
                          text=True, timeout=60)


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def test_an_api_is_healthy_but_not_ready_until_its_database_is_migrated(tmp_path: Path) -> None:
    database = tmp_path / "riskwatch.db"
    port = free_port()
    with running(["serve", "ingest", "--port", str(port)], database) as process:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        alive = healthcheck(process.pid, database)
        assert (alive.returncode, alive.stdout) == (0, "healthy: serve ingest\n")
        not_ready = healthcheck(process.pid, database, "--ready")
        assert not_ready.returncode == 1
        assert f"127.0.0.1:{port}/readyz answered 503" in not_ready.stdout
        upgrade(f"sqlite:///{database}")
        assert healthcheck(process.pid, database, "--ready").returncode == 0
        pid = process.pid
    gone = healthcheck(pid, database)
    assert gone.returncode == 1 and gone.stdout.startswith("unhealthy")


def test_a_worker_is_healthy_when_its_database_is_reachable_and_migrated(
        tmp_path: Path) -> None:
    database = tmp_path / "riskwatch.db"
    upgrade(f"sqlite:///{database}")
    with running(["worker", "reviews-sequencer"], database) as process:
        checked = healthcheck(process.pid, database)
        assert (checked.returncode, checked.stdout) == (0, "healthy: worker reviews-sequencer\n")
        # The same process judged against a database the migrations never ran on.
        unmigrated = healthcheck(process.pid, tmp_path / "empty.db")
        assert unmigrated.returncode == 1 and "not at head" in unmigrated.stdout


def test_a_process_that_is_no_riskwatch_process_is_unhealthy(tmp_path: Path) -> None:
    checked = healthcheck(os.getpid(), tmp_path / "riskwatch.db")
    assert checked.returncode == 1
    assert "runs no `riskwatch serve|worker`" in checked.stdout
