"""`riskwatch demo` (what `make demo` runs) against the live stack, as a newcomer would run it:
it finishes, prints its summary, and a second run adds nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from shared.db import Database
from shared.models import Customer, Event
from shared.models.alerts import Alert
from tests.stack import ROOT, Stack


def _demo(live: Stack) -> str:
    answer = subprocess.run(
        [sys.executable, "-m", "riskwatch", "demo", "--gateway", live.gateway, "--key",
         live.admin_key, "--customers", "60", "--months", "24", "--timeout", "180"],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert answer.returncode == 0, answer.stdout[-3000:] + answer.stderr[-3000:]
    return answer.stdout


def _counts(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Customer)) or 0,
                session.scalar(select(func.count()).select_from(Event)) or 0,
                session.scalar(select(func.count()).select_from(Alert)
                               .where(Alert.drill.is_(False))) or 0)


def test_the_demo_shows_a_working_product_and_running_it_twice_adds_nothing(
        live: Stack, db: Database, engine_name: str) -> None:
    if engine_name == "sqlite":
        pytest.skip("run once, on PostgreSQL: the demo only talks to the API")
    out = _demo(live)
    assert "customers per tier: low" in out and "the ten riskiest" in out
    assert "open alerts:" in out and "audit log:" in out and f"{live.gateway}/docs" in out
    assert "drill " in out and "alert " in out  # the customer-default playbook rehearsed
    # The seeded portfolio has defaults on both sides of the out-of-time split: the default
    # model trains (promoted or not), the embargo notwithstanding.
    default_line = next(x for x in out.splitlines() if x.strip().startswith("default:"))
    assert "trained, out-of-time AUC" in default_line, default_line
    customers, events, alerts = _counts(db)
    assert customers >= 60 and events > 1000 and alerts > 0

    again = _demo(live)
    # A champion is never trained twice; 60 customers may not give a model worth promoting.
    for target in ("default", "churn"):
        line = next(x for x in again.splitlines() if x.strip().startswith(f"{target}:"))
        assert any(s in line for s in ("not trained again", "kept the scorecard",
                                       "training failed")), line
    customers_again, events_again, alerts_again = _counts(db)
    # Only the second drill's synthetic customer and its scenario are new.
    assert customers_again == customers + 1
    assert events_again - events <= 10
    assert alerts_again == alerts
