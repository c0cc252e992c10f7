"""The merged OpenAPI document of every service, and Swagger UI over it (assets served
locally by ``shared.docs``)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.health import documented_paths
from gateway.openapi import fetch_documents, merge_documents

VERSION = "0.1.0"
router = APIRouter()


async def merged_openapi(request: Request) -> dict[str, Any]:
    expires, cached = request.app.state.openapi_cache
    if cached is not None and expires > time.monotonic():
        return dict(cached)
    docs, missing = await fetch_documents(request.app.state.client, request.app.state.upstreams)
    merged = merge_documents(docs, gateway_paths=documented_paths(), version=VERSION)
    if missing:
        merged["x-missing-services"] = missing
    # A partial document is cached briefly so it fills in once a service is back.
    ttl = 5.0 if missing else 60.0
    request.app.state.openapi_cache = (time.monotonic() + ttl, merged)
    return merged


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(await merged_openapi(request))
