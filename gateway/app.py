"""The gateway: the one public door. Authenticates keys, limits rates and bodies, routes to
the services, aggregates their health and serves one merged OpenAPI document."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gateway.keys import KeyResolver
from gateway.openapi import fetch_documents, merge_documents
from gateway.proxy import forward, new_session
from gateway.ratelimit import RateLimiter
from gateway.routing import LARGE_BODY, service_for
from shared.app import freeze_startup_objects
from shared.auth import Principal, ensure_bootstrap_key, identity_headers, raw_key_from_headers
from shared.db import Database
from shared.errors import install_error_handlers, problem_response
from shared.observability import (
    Metrics,
    RequestContextMiddleware,
    configure_logging,
    request_id_var,
)
from shared.settings import Settings, get_settings

SERVICES = ("ingest", "scoring", "alerts", "reviews")
# CRM callbacks cannot carry our API keys: the adapters verify their own token or signature.
KEYLESS = re.compile(r"^/v1/webhooks/")
VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("gateway", settings.log_level)
    upstreams = {name: settings.service_url(name) for name in SERVICES}

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
    app.state.metrics = Metrics("gateway")
    app.state.limiter = RateLimiter(rate=settings.rate_limit_per_second,
                                    burst=settings.rate_limit_burst)
    app.state.openapi_cache = (0.0, None)
    install_error_handlers(app)

    async def service_health(client: aiohttp.ClientSession) -> dict[str, dict[str, Any]]:
        async def one(name: str, url: str) -> tuple[str, dict[str, Any]]:
            started = time.perf_counter()
            try:
                async with client.get(f"{url}/healthz",
                                      timeout=aiohttp.ClientTimeout(total=2)) as response:
                    state = "up" if response.status == 200 else f"http {response.status}"
            except (TimeoutError, aiohttp.ClientError):
                state = "down"
            return name, {"status": state, "url": url,
                          "latency_ms": round((time.perf_counter() - started) * 1000, 1)}

        return dict(await asyncio.gather(*(one(n, u) for n, u in upstreams.items())))

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        services = await service_health(request.app.state.client)
        all_up = all(s["status"] == "up" for s in services.values())
        return JSONResponse({"status": "ok" if all_up else "degraded", "service": "gateway",
                             "services": services})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        services = await service_health(request.app.state.client)
        ready = all(s["status"] == "up" for s in services.values())
        return JSONResponse({"status": "ready" if ready else "not-ready", "services": services},
                            status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    async def merged_openapi(request: Request) -> dict[str, Any]:
        expires, cached = request.app.state.openapi_cache
        if cached is not None and expires > time.monotonic():
            return dict(cached)
        docs, missing = await fetch_documents(request.app.state.client, upstreams)
        merged = merge_documents(docs, gateway_paths=_gateway_paths(), version=VERSION)
        if missing:
            merged["x-missing-services"] = missing
        # A partial document is cached briefly so it fills in once a service is back.
        ttl = 5.0 if missing else 60.0
        request.app.state.openapi_cache = (time.monotonic() + ttl, merged)
        return merged

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(await merged_openapi(request))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="riskwatch API")

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def proxy(request: Request) -> Response:
        path = request.url.path
        service = service_for(path)
        if service is None:
            return problem_response(status=404, code="not-found", title="Not found",
                                    detail=f"No riskwatch route for {path}.", instance=path)
        request.state.route_label = f"/v1 -> {service}"
        principal = await _authenticate(request)
        if principal is None and not KEYLESS.match(path):
            return problem_response(
                status=401, code="unauthorized", title="Missing or invalid API key",
                detail="Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'.",
                instance=path, headers={"WWW-Authenticate": "Bearer"})
        limiter: RateLimiter = request.app.state.limiter
        bucket = principal.key_id if principal else f"ip:{request.client and request.client.host}"
        retry_after = limiter.check(bucket, principal.rate_limit_per_second if principal else None)
        if retry_after:
            return problem_response(status=429, code="rate-limited", title="Too many requests",
                                    detail="This key's rate limit is exhausted.", instance=path,
                                    headers={"Retry-After": str(retry_after)})
        body_limit = (settings.max_import_body_bytes if LARGE_BODY.match(path)
                      else settings.max_body_bytes)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > body_limit:
            return problem_response(status=413, code="payload-too-large",
                                    title="Request body too large",
                                    detail=f"The body exceeds {body_limit} bytes.", instance=path)
        extra = identity_headers(principal, secret=settings.internal_secret) if principal else {}
        extra["x-request-id"] = request_id_var.get() or ""
        return await forward(request, client=request.app.state.client,
                             base_url=upstreams[service], service=service,
                             extra_headers=extra, body_limit=body_limit)

    async def _authenticate(request: Request) -> Principal | None:
        raw_key = raw_key_from_headers(request.headers)
        if not raw_key:
            return None
        resolver: KeyResolver = request.app.state.keys
        return await resolver.resolve(raw_key)

    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app


def _gateway_paths() -> dict[str, Any]:
    def op(summary: str, op_id: str) -> dict[str, Any]:
        return {"get": {"tags": ["operations"], "summary": summary, "operationId": op_id,
                        "security": [], "responses": {"200": {"description": "OK"}}}}

    return {
        "/healthz": op("Gateway and per-service health", "operations-healthz"),
        "/readyz": op("Ready when every service is up", "operations-readyz"),
        "/metrics": op("Prometheus metrics of the gateway", "operations-metrics"),
    }
