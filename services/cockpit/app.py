"""The cockpit app: server-rendered pages under ``/ui`` (Jinja2 + htmx + ECharts, all assets
served from here), reading and writing only through the public API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from services.cockpit import auth, screens
from services.cockpit.api import ApiError, ReportCache
from services.cockpit.session import SESSION_COOKIE, SessionBox
from services.cockpit.settings import CockpitSettings, get_cockpit_settings
from services.cockpit.web import (
    PREFIX,
    CsrfRefused,
    Forbidden,
    NotSignedIn,
    current_session,
    message,
    render,
    sign_in_redirect,
)
from shared.app import freeze_startup_objects
from shared.observability import Metrics, RequestContextMiddleware, configure_logging
from shared.settings import get_settings

STATIC = Path(__file__).parent / "static"
# Everything from this origin: no inline script, nothing from another host. ECharts and
# htmx set inline styles, hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def gateway_url(settings: CockpitSettings) -> str:
    if settings.gateway_url:
        return settings.gateway_url.rstrip("/")
    platform = get_settings()
    return f"http://{platform.host}:{platform.gateway_port}"


def create_app(settings: CockpitSettings | None = None) -> FastAPI:
    settings = settings or get_cockpit_settings()
    platform = get_settings()
    configure_logging("cockpit", platform.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = httpx.AsyncClient(
            base_url=gateway_url(settings), timeout=settings.api_timeout_seconds,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        freeze_startup_objects()
        yield
        await app.state.client.aclose()

    app = FastAPI(title="riskwatch cockpit", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.service_name = "cockpit"
    app.state.cockpit_settings = settings
    app.state.metrics = Metrics("cockpit")
    app.state.report_cache = ReportCache(settings.report_cache_seconds)
    app.state.sessions = SessionBox(keys=settings.session_keys,
                                    max_age_seconds=settings.session_hours * 3600)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "cockpit"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        try:
            answer = await request.app.state.client.get("/healthz", timeout=2)
            ready = answer.status_code == 200
        except httpx.HTTPError:
            ready = False
        return JSONResponse({"status": "ready" if ready else "not-ready",
                             "checks": {"gateway": "ok" if ready else "unreachable"}},
                            status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        session = current_session(request)
        return render(request, "error.html", {"status": 403, "text": message(
            request, "Your key's scopes do not allow this screen.")},
            session=session, status_code=403)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return render(request, "error.html", {"status": 403, "text": message(
            request, "The form's security token is missing or stale; reload the page and "
                     "try again.")}, status_code=403)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        if error.status == 401:  # the key was revoked: the session is over
            response = sign_in_redirect(request)
            response.delete_cookie(SESSION_COOKIE, path=PREFIX)
            return response
        try:
            session = current_session(request)
        except NotSignedIn:
            session = None
        status = error.status if error.status in (403, 404, 409, 422) else 502
        return render(request, "error.html", {"status": status, "text": error.detail},
                      session=session, status_code=status)

    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    for router in screens.ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app
