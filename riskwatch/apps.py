"""App factories that need the registry: the gateway, given the services it fronts."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.app import create_app
from riskwatch.processes import ROUTES, upstreams
from shared.settings import Settings, get_settings


def create_gateway(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_app(settings, upstreams=upstreams(settings),
                      routes=[(route.pattern, route.service) for route in ROUTES])
