"""One OpenAPI document for ops teams: the four services' documents merged."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import aiohttp

from shared.errors import PROBLEM_JSON
from shared.openapi import PROBLEM_COMPONENT, SECURITY_SCHEMES

GATEWAY_PATHS = ("/healthz", "/readyz", "/metrics")


def merge_documents(documents: dict[str, dict[str, Any]], *, gateway_paths: dict[str, Any],
                    version: str) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "riskwatch API",
            "version": version,
            "description": (
                "Customer-risk monitoring: ingest, scoring, alerts and reviews behind one "
                "gateway. Every `/v1` route needs an API key with the scope it names "
                "(`Authorization: Bearer <key>` or `X-API-Key`)."),
        },
        "paths": dict(gateway_paths),
        "components": {"schemas": {"Problem": PROBLEM_COMPONENT},
                       "securitySchemes": SECURITY_SCHEMES},
        "tags": [],
        "x-services": {},
    }
    seen_tags: set[str] = set()
    for service, doc in sorted(documents.items()):
        merged["x-services"][service] = {"paths": 0}
        for path, item in doc.get("paths", {}).items():
            if path in GATEWAY_PATHS:
                continue
            merged["paths"][path] = _with_gateway_answers(item)
            merged["x-services"][service]["paths"] += 1
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            existing = merged["components"]["schemas"].get(name)
            if existing is not None and existing != schema:
                # Same name, different shape in two services: keep both, distinctly.
                merged["components"]["schemas"][f"{service}_{name}"] = schema
                continue
            merged["components"]["schemas"][name] = schema
        for tag in doc.get("tags", []) or []:
            if tag["name"] not in seen_tags:
                seen_tags.add(tag["name"])
                merged["tags"].append({**tag, "x-service": service})
    return merged


# What the gateway itself may answer on any /v1 route before the service sees the request.
GATEWAY_ANSWERS = {
    "400": "Invalid path (dot segments, encoded slashes)",
    "429": "This key's rate limit is exhausted",
    "503": "The owning service is unavailable",
    "504": "The owning service timed out",
}


def _with_gateway_answers(item: dict[str, Any]) -> dict[str, Any]:
    for operation in item.values():
        if not isinstance(operation, dict) or "responses" not in operation:
            continue
        for status, description in GATEWAY_ANSWERS.items():
            operation["responses"].setdefault(status, {
                "description": description,
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            })
    return item


async def fetch_documents(client: aiohttp.ClientSession,
                          services: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    async def one(name: str, url: str) -> tuple[str, dict[str, Any] | None]:
        try:
            async with client.get(f"{url}/openapi.json",
                                  timeout=aiohttp.ClientTimeout(total=15)) as response:
                response.raise_for_status()
                return name, await response.json()
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return name, None

    results = await asyncio.gather(*(one(n, u) for n, u in services.items()))
    docs = {name: copy.deepcopy(doc) for name, doc in results if doc is not None}
    missing = [name for name, doc in results if doc is None]
    return docs, missing
