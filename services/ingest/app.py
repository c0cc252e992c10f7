"""Ingest service: customers, CloudEvents, CRM webhooks and CSV imports come in here."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest.customers.router import router as customers_router
from services.ingest.events.router import router as events_router
from services.ingest.events.router import single_event_commits
from services.ingest.imports.router import router as imports_router
from services.ingest.settings import IngestSettings, get_ingest_settings
from services.ingest.sources.router import router as sources_router
from services.ingest.webhooks.router import router as webhooks_router
from shared.app import create_service_app

TAGS = [
    {"name": "customers", "description": "Customer profiles (the background check)"},
    {"name": "events", "description": "CloudEvents about customers"},
    {"name": "webhooks", "description": "CRM and signed-webhook adapters"},
    {"name": "imports", "description": "CSV imports"},
]


def create_app(database_url: str | None = None,
               settings: IngestSettings | None = None) -> FastAPI:
    def on_startup(app: FastAPI) -> None:
        app.state.single_events = single_event_commits(
            app.state.db, max_items=app.state.ingest_settings.max_batch_events,
            on_flush=app.state.metrics.group_commit_observer("events"))

    app = create_service_app(
        name="ingest",
        title="riskwatch ingest",
        description="Customers and events in, from CRMs, company systems and files.",
        routers=[customers_router, events_router, webhooks_router, sources_router,
                 imports_router],
        tags=TAGS,
        database_url=database_url,
        on_startup=on_startup,
    )
    app.state.ingest_settings = settings or get_ingest_settings()
    return app
