"""Every ``/v1`` request: check the raw path, pick the service, authenticate, rate-limit,
apply the body limit, then forward exactly the path that was routed.

``/ui`` (the cockpit's pages and assets) is forwarded the same way without an API key: a
browser holds no key; the cockpit signs its users in with a session cookie and calls ``/v1``
through this gateway with the key the session holds, so every read and write it makes is
authenticated and scope-checked here like any other client's."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.keys import KeyResolver
from gateway.proxy import forward
from gateway.ratelimit import RateLimiter
from gateway.routing import RouteTable, raw_query, routable_path
from shared.auth import Principal, identity_headers, raw_key_from_headers
from shared.errors import (
    NotFound,
    PayloadTooLarge,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    problem_for,
)
from shared.limits import body_limit_for
from shared.observability import request_id_var
from shared.settings import Settings

# CRM callbacks cannot carry our API keys: the adapters verify their own token or signature.
KEYLESS = re.compile(r"^/v1/webhooks/")
# Browser pages: the app behind them authenticates its users itself (session cookie).
PAGES = re.compile(r"^/ui(/|$)")
router = APIRouter()


@router.get("/v1/whoami", include_in_schema=False)
async def whoami(request: Request) -> JSONResponse:
    """The calling key's name and scopes, so a client (the cockpit) can show only what the
    key may do. Answered by the gateway, which is where keys are resolved."""
    principal = await _authenticate(request)
    if principal is None:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'.",
                           headers={"WWW-Authenticate": "Bearer"})
    _rate_limit(request, principal.key_id, principal.rate_limit_per_second)
    return JSONResponse({"key_id": principal.key_id, "name": principal.name,
                         "scopes": sorted(principal.scopes)})


@router.api_route("/ui", methods=["GET", "HEAD", "POST"], include_in_schema=False)
@router.api_route("/ui/{path:path}", methods=["GET", "HEAD", "POST"], include_in_schema=False)
async def pages(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    path = routable_path(request.scope.get("raw_path") or request.url.path.encode())
    service = request.app.state.routes.service_for(path)
    if service is None or not PAGES.match(path):
        raise NotFound(f"No riskwatch route for {path}.")
    request.state.route_label = f"/ui -> {service}"
    _rate_limit(request, f"ip:{request.client and request.client.host}", None)
    body_limit = body_limit_for(path, settings)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise PayloadTooLarge(f"The body exceeds {body_limit} bytes.")
    # No identity headers: a page request carries no key, and the cockpit trusts none.
    return await forward(request, client=request.app.state.client,
                         base_url=request.app.state.upstreams[service], path=path,
                         query=raw_query(request.scope.get("query_string", b"")),
                         service=service, extra_headers={"x-request-id": request_id_var.get()
                                                         or ""},
                         body_limit=body_limit,
                         internal_origins=request.app.state.internal_origins)


def _rate_limit(request: Request, bucket: str, rate: float | None) -> None:
    limiter: RateLimiter = request.app.state.limiter
    retry_after = limiter.check(bucket, rate)
    if retry_after:
        raise TooManyRequests("This key's rate limit is exhausted.",
                              headers={"Retry-After": str(retry_after)})


class ForwardedRoutes:
    """Pure ASGI, in front of FastAPI's router: every ``/v1`` path but the gateway's own
    ``/v1/whoami`` goes to ``proxy``, whatever the method (the owning service knows the
    path's methods: 405 with the right Allow, HEAD, OPTIONS).

    Not a FastAPI route because routing, dependency solving and the exception middleware
    cost more than the forwarding itself: on a proxied risk read they were about a third of
    the gateway's CPU (py-spy ``--gil`` under ``bench.requests``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path == "/v1/whoami":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await proxy(request)
        except ProblemError as exc:
            response = problem_for(exc, instance=request.url.path)
        await response(scope, receive, send)


async def proxy(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    path = routable_path(request.scope.get("raw_path") or request.url.path.encode())
    routes: RouteTable = request.app.state.routes
    service = routes.service_for(path)
    if service is None:
        raise NotFound(f"No riskwatch route for {path}.")
    request.state.route_label = f"/v1 -> {service}"
    principal = await _authenticate(request)
    if principal is None and not KEYLESS.match(path):
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'.",
                           headers={"WWW-Authenticate": "Bearer"})
    bucket = principal.key_id if principal else f"ip:{request.client and request.client.host}"
    _rate_limit(request, bucket, principal.rate_limit_per_second if principal else None)
    body_limit = body_limit_for(path, settings)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise PayloadTooLarge(f"The body exceeds {body_limit} bytes.")
    extra = identity_headers(principal, secret=settings.internal_secret) if principal else {}
    extra["x-request-id"] = request_id_var.get() or ""
    return await forward(request, client=request.app.state.client,
                         base_url=request.app.state.upstreams[service], path=path,
                         query=raw_query(request.scope.get("query_string", b"")),
                         service=service, extra_headers=extra, body_limit=body_limit,
                         internal_origins=request.app.state.internal_origins)


async def _authenticate(request: Request) -> Principal | None:
    raw_key = raw_key_from_headers(request.headers)
    if not raw_key:
        return None
    resolver: KeyResolver = request.app.state.keys
    return await resolver.resolve(raw_key)
