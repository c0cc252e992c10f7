"""The benchmark report: recorded figures (JSON lines) become bench/RESULTS.md and the
README's figures table, and `run_all --quick` on one real bench writes its figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.run_all import QUICK_ARGS
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_available

ROOT = Path(__file__).resolve().parents[2]
LINES = [
    json.dumps({"bench": "bench.gateway", "name": "read through the gateway", "value": 733.4,
                "unit": "req/s", "baseline_name": "straight at the service",
                "baseline_value": 873.0, "target": None, "met": None}),
    json.dumps({"bench": "bench.alerts", "name": "event -> alert, p99", "value": 411.0,
                "unit": "ms", "baseline_name": None, "baseline_value": None,
                "target": "p99 <= 1000 ms", "met": True}),
    json.dumps({"bench": "bench.capacity", "name": "largest steady rate", "value": 300.0,
                "unit": "events/s", "baseline_name": None, "baseline_value": None,
                "target": ">= 500 events/s", "met": False}),
]
MACHINE = report.Machine(cores=2, memory_gib=7.75, load_start=(1.5, 2.0, 2.5),
                         load_end=(3.25, 2.5, 2.0), date="2026-11-30T08:00:00Z",
                         commit="abc1234", quick=True,
                         benches={"bench.gateway": "ok", "bench.alerts": "ok",
                                  "bench.capacity": "failed (exit 1)"})


def test_results_show_each_figure_beside_its_baseline_with_the_ratio_and_target_marks(
        ) -> None:
    text = report.render_results(report.read_figures(LINES), MACHINE)
    assert ("| read through the gateway | 733 req/s | straight at the service: 873 req/s | "
            "0.84× | — |") in text
    assert "| event -> alert, p99 | 411 ms | — | — | p99 <= 1000 ms ✅ met |" in text
    assert "| largest steady rate | 300 events/s | — | — | >= 500 events/s ❌ not met |" in text
    assert "2 cores, 7.8 GiB memory" in text
    assert "1.50 / 2.00 / 2.50 at the start, 3.25 / 2.50 / 2.00 at the end" in text
    assert "2026-11-30T08:00:00Z" in text and "**quick run**" in text
    assert text.index("## bench.gateway") < text.index("## bench.alerts") < text.index(
        "## bench.capacity")


def test_a_bench_that_recorded_nothing_is_said_so() -> None:
    machine = report.Machine(**{**MACHINE.__dict__, "benches": {"bench.bus": "failed (exit 1)"},
                                "quick": False})
    text = report.render_results([], machine)
    assert "## bench.bus\n\nNo figure recorded." in text and "full run" in text


def test_a_run_of_some_benches_says_it_is_not_of_every_bench() -> None:
    assert "not of every bench" not in report.render_results([], MACHINE)
    some = report.Machine(**{**MACHINE.__dict__, "every_bench": False, "quick": False})
    assert "full run of 3 benches only (`--only`), not of every bench" in \
        report.render_results([], some)


def test_the_readme_table_is_replaced_between_its_markers_and_the_prose_kept() -> None:
    readme = (f"## Current figures\n\nProse before.\n\n{report.BEGIN}\n| old | table |\n"
              f"{report.END}\n\nProse after.\n")
    table = report.render_readme_table(report.read_figures(LINES), MACHINE)
    updated = report.replace_between_markers(readme, table)
    assert updated.startswith("## Current figures\n\nProse before.\n\n" + report.BEGIN)
    assert updated.endswith(f"{report.END}\n\nProse after.\n") and "| old |" not in updated
    assert ("| read through the gateway | `python -m bench.gateway` | 733 req/s | "
            "straight at the service: 873 req/s | 0.84× | — |") in updated
    with pytest.raises(ValueError, match="markers"):
        report.replace_between_markers("no markers here", table)


def test_recording_without_run_all_only_prints(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.delenv(report.RECORD_ENV, raising=False)
    report.record("x", 1.0, "ms")  # no file named: nothing written, nothing raised
    target = tmp_path / "figures.jsonl"
    monkeypatch.setenv(report.RECORD_ENV, str(target))
    report.record("x", 2.0, "ms", baseline=("y", 4.0), target="<= 3 ms", met=True)
    [figure] = report.read_figures(target.read_text().splitlines())
    assert (figure.value, figure.baseline_value, figure.ratio, figure.met) == (2.0, 4.0, 0.5,
                                                                               True)


def test_every_bench_script_is_run_by_run_all() -> None:
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py")} - {
        "__init__", "common", "report", "run_all"}
    assert scripts == set(QUICK_ARGS)


def test_run_all_quick_on_one_bench_writes_its_figure_to_results(tmp_path: Path) -> None:
    problem = _postgres_available()
    if problem:
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    results = tmp_path / "RESULTS.md"
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.BEGIN}\nkept\n{report.END}\n")
    answer = subprocess.run(
        [sys.executable, "-m", "bench.run_all", "--quick", "--only", "risk_lookup",
         "--results", str(results), "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "RISKWATCH_BENCH_POSTGRES_URL": POSTGRES_ADMIN_URL})
    assert answer.returncode == 0, answer.stdout[-2000:] + answer.stderr[-2000:]
    text = results.read_text()
    assert "**quick run**" in text and "## bench.risk_lookup" in text
    assert "`python -m bench.risk_lookup --customers 200 --rounds 1` — ok" in text
    assert "| risk lookup, hot read (no Session) | " in text
    assert "old shape: transaction + 3 queries: " in text and "×" in text
    assert readme.read_text() == f"{report.BEGIN}\nkept\n{report.END}\n"  # quick: untouched
