"""A service's OpenAPI document as ops teams read it: every error answer is an RFC 9457
problem (`application/problem+json`, schema `Problem`), whatever declared it — our routes,
or FastAPI's automatic 422 — and the security schemes the gateway accepts."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.errors import PROBLEM_JSON
from shared.methods import PathMethods

PROBLEM_COMPONENT: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "An API key from `riskwatch keys create`."},
    "BearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "The same key as `Authorization: Bearer <key>`."},
}
# Served by every app but not part of its API document.
UNDOCUMENTED_PAGES = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# FastAPI's own description of its 422, replaced by the Problem shape above.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def errors_as_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Describe every 4xx/5xx answer of every operation as a problem document."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = dict(_PROBLEM_CONTENT)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_COMPONENT
    return document


def install_openapi(app: FastAPI) -> None:
    """Build the service's document once, on first request, as described above."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes,
                               tags=app.openapi_tags)
        errors_as_problems(document)
        document["components"]["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @functools.cache
    def path_methods() -> PathMethods:
        # The document's paths, plus the docs pages it does not list.
        paths: dict[str, list[str]] = {path: ["get"] for path in UNDOCUMENTED_PAGES}
        paths.update(PathMethods.paths_of(openapi()))
        return PathMethods(paths)

    app.state.path_methods = path_methods
