"""Alerts service: rules, alerts, silences, receivers and their deliveries, playbooks
and drills."""

from __future__ import annotations

from fastapi import FastAPI

from services.alerts.alerts.router import router as alerts_router
from services.alerts.backtest.router import router as backtest_router
from services.alerts.builtins import ensure_builtins
from services.alerts.drills.router import router as drills_router
from services.alerts.playbooks.router import router as playbooks_router
from services.alerts.playbooks.router import runs_router as playbook_runs_router
from services.alerts.receivers.router import router as receivers_router
from services.alerts.rules.router import router as rules_router
from services.alerts.silences.router import router as silences_router
from shared.app import create_service_app

TAGS = [
    {"name": "alerts", "description": "De-duplicated alerts: list, counts, lifecycle"},
    {"name": "alert-rules", "description": "What raises alerts, versioned, with backtests"},
    {"name": "silences", "description": "Alerts recorded but not notified for a while"},
    {"name": "receivers", "description": "Where notifications go, and every delivery"},
    {"name": "playbooks", "description": "What to do when an alert opens: ordered steps"},
    {"name": "playbook-runs", "description": "Playbooks at work: steps, owners, deadlines"},
    {"name": "drills", "description": "Rehearse a playbook on a synthetic customer"},
]


def _seed(app: FastAPI) -> None:
    with app.state.db.transaction() as session:
        ensure_builtins(session)


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="alerts",
        title="riskwatch alerts",
        description="De-duplicated alerts on risk indicators, notifications and playbooks.",
        routers=[rules_router, backtest_router, alerts_router, silences_router,
                 receivers_router, playbooks_router, playbook_runs_router, drills_router],
        tags=TAGS,
        database_url=database_url,
        on_startup=_seed,
    )
