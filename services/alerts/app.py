"""Alerts service: rules, alerts, silences (and receivers, playbooks and drills)."""

from __future__ import annotations

import importlib
import importlib.util

from fastapi import APIRouter, FastAPI

from services.alerts.alerts.router import router as alerts_router
from services.alerts.backtest.router import router as backtest_router
from services.alerts.rules.router import router as rules_router
from services.alerts.rules.service import ensure_builtin_rules
from services.alerts.silences.router import router as silences_router
from shared.app import create_service_app

TAGS = [
    {"name": "alerts", "description": "De-duplicated alerts: list, counts, lifecycle"},
    {"name": "alert-rules", "description": "What raises alerts, versioned, with backtests"},
    {"name": "silences", "description": "Alerts recorded but not notified for a while"},
]


def _optional_routers() -> list[APIRouter]:
    """Routers of parts built alongside (receivers), included once their module exists."""
    routers: list[APIRouter] = []
    for module_name in ("services.alerts.receivers.router",):
        try:
            found = importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:  # its package is not there either
            found = False
        if found:
            routers.append(importlib.import_module(module_name).router)
    return routers


def _seed(app: FastAPI) -> None:
    with app.state.db.transaction() as session:
        ensure_builtin_rules(session)


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="alerts",
        title="riskwatch alerts",
        description="De-duplicated alerts on risk indicators, notifications and playbooks.",
        routers=[rules_router, backtest_router, alerts_router, silences_router,
                 *_optional_routers()],
        tags=TAGS,
        database_url=database_url,
        on_startup=_seed,
    )
