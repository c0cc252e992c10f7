"""A worker process lowers its CPU priority at start (RISKWATCH_WORKER_NICE), so that on
shared cores the API processes, where callers wait, are served first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


def _niceness(pid: int) -> int:
    # /proc/<pid>/stat: the nice value is field 19; the command name (field 2) may hold spaces.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _worker_lowers_by(directory: Path, setting: str | None) -> int:
    """Starts `riskwatch worker reviews` and returns how far its niceness rose."""
    url = f"sqlite:///{directory / 'riskwatch.db'}"
    upgrade(url)
    env = {**os.environ, "RISKWATCH_DATABASE_URL": url, "RISKWATCH_LOG_LEVEL": "WARNING"}
    env.pop("RISKWATCH_WORKER_NICE", None)
    if setting is not None:
        env["RISKWATCH_WORKER_NICE"] = setting
    started_at = os.getpriority(os.PRIO_PROCESS, 0)
    process = subprocess.Popen([sys.executable, "-m", "riskwatch", "worker", "reviews"],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if _niceness(process.pid) != started_at:
                return _niceness(process.pid) - started_at
            time.sleep(0.05)
        raise AssertionError(f"the worker never lowered its priority (exit {process.poll()})")
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_a_worker_lowers_its_priority_by_the_setting(tmp_path: Path) -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) > 19 - 10:
        pytest.skip("the test runner already runs at a low priority")
    (tmp_path / "default").mkdir()
    (tmp_path / "three").mkdir()
    assert _worker_lowers_by(tmp_path / "default", None) == 10
    assert _worker_lowers_by(tmp_path / "three", "3") == 3
