"""Alerts service: rules, alerts, receivers, playbooks and drills."""

from __future__ import annotations

from fastapi import FastAPI

from services.alerts.receivers.router import router as receivers_router
from shared.app import create_service_app


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="alerts",
        title="riskwatch alerts",
        description="De-duplicated alerts on risk indicators, notifications and playbooks.",
        routers=[receivers_router],
        database_url=database_url,
    )
