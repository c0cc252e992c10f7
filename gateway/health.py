"""The gateway's own operational routes: health aggregated over the services, readiness,
Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

router = APIRouter()


async def service_health(client: aiohttp.ClientSession,
                         upstreams: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each service's /healthz, asked in parallel with a short timeout."""
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


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    services = await service_health(request.app.state.client, request.app.state.upstreams)
    all_up = all(s["status"] == "up" for s in services.values())
    return JSONResponse({"status": "ok" if all_up else "degraded", "service": "gateway",
                         "services": services})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    services = await service_health(request.app.state.client, request.app.state.upstreams)
    ready = all(s["status"] == "up" for s in services.values())
    return JSONResponse({"status": "ready" if ready else "not-ready", "services": services},
                        status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)


def documented_paths() -> dict[str, Any]:
    """How the merged OpenAPI document describes the routes above."""
    def op(summary: str, op_id: str) -> dict[str, Any]:
        return {"get": {"tags": ["operations"], "summary": summary, "operationId": op_id,
                        "security": [], "responses": {"200": {"description": "OK"}}}}

    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    whoami = {"get": {
        "tags": ["operations"], "summary": "The calling key's name and scopes",
        "description": "Answered by the gateway: the key id, name and scopes of the key sent, "
                       "so a client can offer only what the key may do.",
        "operationId": "operations-whoami",
        "security": [{"ApiKeyAuth": []}, {"BearerAuth": []}],
        "responses": {
            "200": {"description": "The key's identity", "content": {"application/json": {
                "schema": {"type": "object", "required": ["key_id", "name", "scopes"],
                           "properties": {"key_id": {"type": "string"},
                                          "name": {"type": "string"},
                                          "scopes": {"type": "array",
                                                     "items": {"type": "string"}}}}}}},
            "401": {"description": "No valid key", "content": problem},
            "429": {"description": "This key's rate limit is exhausted", "content": problem},
        }}}
    return {
        "/v1/whoami": whoami,
        "/healthz": op("Gateway and per-service health", "operations-healthz"),
        "/readyz": op("Ready when every service is up", "operations-readyz"),
        "/metrics": op("Prometheus metrics of the gateway", "operations-metrics"),
    }
