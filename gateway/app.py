"""The gateway: the one public door. Authenticates keys, limits rates and bodies, routes to
the services, aggregates their health and serves one merged OpenAPI document.

It knows no service by name: ``riskwatch.apps.create_gateway`` hands it the upstreams and
routes of the process registry.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import docs, health, proxying
from gateway.docs import VERSION
from gateway.keys import KeyResolver
from gateway.proxy import new_session, origin_of
from gateway.ratelimit import RateLimiter
from gateway.routing import RouteTable
from shared.app import freeze_startup_objects
from shared.auth import ensure_bootstrap_key
from shared.db import Database
from shared.docs import install_offline_docs
from shared.errors import install_error_handlers
from shared.methods import MethodsMiddleware, PathMethods
from shared.observability import Metrics, RequestContextMiddleware, configure_logging
from shared.settings import Settings

GATEWAY_PAGES = PathMethods({path: ["get"] for path in (
    "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/v1/whoami")})


def create_app(settings: Settings, *, upstreams: Mapping[str, str],
               routes: Sequence[tuple[re.Pattern[str], str]]) -> FastAPI:
    """``upstreams``: service name -> base URL; ``routes``: ordered (raw-path pattern,
    service) pairs."""
    configure_logging("gateway", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        if settings.bootstrap_api_key:
            with db.transaction() as session:
                ensure_bootstrap_key(session, settings.bootstrap_api_key)
        app.state.keys = KeyResolver(db, ttl=settings.key_cache_seconds)
        app.state.client = new_session(connect_timeout=settings.upstream_connect_timeout,
                                       read_timeout=settings.upstream_read_timeout)
        freeze_startup_objects()
        yield
        await app.state.client.close()
        db.dispose()

    app = FastAPI(title="riskwatch gateway", version=VERSION, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.upstreams = dict(upstreams)
    app.state.internal_origins = frozenset(origin_of(url) for url in upstreams.values())
    app.state.routes = RouteTable(routes)
    app.state.metrics = Metrics("gateway")
    app.state.limiter = RateLimiter(rate=settings.rate_limit_per_second,
                                    burst=settings.rate_limit_burst)
    app.state.openapi_cache = (0.0, None)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(docs.router)
    install_offline_docs(app, title="riskwatch API", redoc=False)
    app.include_router(proxying.router)
    # /v1 and /ui requests go to their service, which knows each path's methods; the gateway's own
    # pages (and /v1/whoami) are GET only.
    app.state.path_methods = lambda: GATEWAY_PAGES
    app.add_middleware(proxying.ForwardedRoutes)
    app.add_middleware(MethodsMiddleware, pass_through=re.compile(r"^/(v1/(?!whoami$)|ui(/|$))"))
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app
