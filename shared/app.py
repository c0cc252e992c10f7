"""The app factory every service uses: health, readiness, metrics, errors, request context,
and the database each route opens its unit of work on."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.admission import AdmissionMiddleware
from shared.auth import ensure_bootstrap_key
from shared.db import Database
from shared.docs import install_offline_docs
from shared.errors import install_error_handlers
from shared.limits import BodyLimitMiddleware
from shared.methods import MethodsMiddleware
from shared.migrate import is_at_head
from shared.observability import Metrics, RequestContextMiddleware, configure_logging
from shared.openapi import install_openapi
from shared.settings import get_settings
from shared.validation import InputGuardMiddleware


async def get_db(request: Request) -> Database:
    """The process's database, for a route to open its unit of work on.

    A sync route opens its transaction itself and returns from inside the block::

        def put_tiers(body: TierConfigIn, db: Database = DatabaseDep) -> TierConfigOut:
            with db.transaction() as session:
                return service.put_config(session, config=body, actor=...)

    The block commits (or rolls back) in the route's own worker thread before the route
    returns, which keeps two measured properties (tests/platform/test_unit_of_work.py):

    - a failed commit raises out of the route and is answered 5xx, never 2xx;
    - no pooled connection is held after the route's thread is given back. FastAPI validates
      a sync route's response on the thread pool too; a session still open at that point
      waits for a thread while every thread waits for a connection, which deadlocked until
      the pool timed out at 32 callers (thread pool ``threadpool_size``, connection pool
      ``db_pool_size`` + ``db_max_overflow``).

    A hot read of one indexed statement that takes no lock may instead be an ``async``
    route and run its read on the event loop (GET /risk, through shared/hotpath.py): the
    hop to a worker thread cost more than the statement. Writes stay on threads, so a
    commit's flush to disk never stops the loop.

    Async (no thread hop): it only reads the app's state.
    """
    db: Database = request.app.state.db
    return db


DatabaseDep = Depends(get_db)


def add_operational_routes(app: FastAPI, *, readiness: Callable[[], dict[str, Any]]) -> None:
    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz", summary="Process is up", operation_id="operations-healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": app.state.service_name}

    @ops.get("/readyz", summary="Database reachable and migrated",
             operation_id="operations-readyz")
    def readyz() -> JSONResponse:
        checks = readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not-ready", "checks": checks},
                            status_code=200 if ready else 503)

    @ops.get("/metrics", summary="Prometheus metrics", operation_id="operations-metrics",
             response_class=Response)
    def metrics() -> Response:
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    app.include_router(ops)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, models, the engine) out of the garbage
    collector's reach, or each full collection walks them all: measured in ingest at 32
    concurrent callers, those pauses made the p99 latency 4-8x the median."""
    gc.collect()
    gc.freeze()


def database_readiness(db: Database) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if is_at_head(db.engine) else "not at head"
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        checks["database"] = f"error: {type(exc).__name__}"
    return checks


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    tags: list[dict[str, str]] | None = None,
    database_url: str | None = None,
    on_startup: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    settings = get_settings()
    configure_logging(name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(database_url or settings.database_url)
        to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        if settings.bootstrap_api_key:
            with app.state.db.transaction() as session:
                ensure_bootstrap_key(session, settings.bootstrap_api_key)
        if on_startup:
            on_startup(app)
        # Build the OpenAPI document now, not on the first /openapi.json: on a busy machine
        # that took longer than the gateway waits, and /docs lost the service's routes.
        app.openapi()
        freeze_startup_objects()
        yield
        app.state.db.dispose()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan,
                  openapi_tags=tags, docs_url=None, redoc_url=None)
    install_offline_docs(app, title=title)
    app.state.service_name = name
    app.state.metrics = Metrics(name)
    install_error_handlers(app)
    add_operational_routes(app, readiness=lambda: database_readiness(app.state.db))
    for router in routers:
        app.include_router(router)
    app.add_middleware(MethodsMiddleware)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(AdmissionMiddleware, limit=settings.max_in_flight)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    install_openapi(app)
    return app
