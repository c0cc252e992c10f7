"""Ingest service: customers, CloudEvents, CRM webhooks and CSV imports come in here."""

from __future__ import annotations

from fastapi import FastAPI

from shared.service import create_service_app

TAGS = [
    {"name": "customers", "description": "Customer profiles (the background check)"},
    {"name": "events", "description": "CloudEvents about customers"},
    {"name": "webhooks", "description": "CRM and signed-webhook adapters"},
    {"name": "imports", "description": "CSV imports"},
]


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="ingest",
        title="riskwatch ingest",
        description="Customers and events in, from CRMs, company systems and files.",
        routers=[],
        tags=TAGS,
        database_url=database_url,
    )
