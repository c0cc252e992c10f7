"""Typed errors and the one handler that renders them all as RFC 9457 problem details."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.methods import allowed_methods

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("riskwatch.errors")


class ProblemError(Exception):
    """An error a caller should see, with its status and a machine-readable code."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra


class BadRequest(ProblemError):
    pass


class InvalidPath(ProblemError):
    """A path that could name another route once normalised (dot segments, encoded '/')."""

    status, code, title = 400, "invalid-path", "Path not allowed"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Missing or invalid API key"


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "API key lacks the required scope"


class NotFound(ProblemError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported-media-type", "Unsupported content type"


class ValidationFailed(ProblemError):
    status, code, title = 422, "validation-failed", "The request did not validate"


class TooManyRequests(ProblemError):
    status, code, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


class GatewayTimeout(ProblemError):
    status, code, title = 504, "gateway-timeout", "Upstream service timed out"


async def send_problem(send: Any, *, status: int, code: str, title: str, detail: str,
                       instance: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A problem answer written straight to an ASGI ``send``: for middlewares that answer
    before (or instead of) the app, outside the exception handlers."""
    payload = json.dumps(problem_body(status=status, code=code, title=title, detail=detail,
                                      instance=instance)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


def field_error(field: str, message: str, **more: Any) -> dict[str, Any]:
    return {"field": field, "message": message, **more}


def problem_body(
    *, status: int, code: str, title: str, detail: str, instance: str | None = None,
    errors: list[dict[str, Any]] | None = None, **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://riskwatch.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(
    *, status: int, code: str, title: str, detail: str, instance: str | None = None,
    errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status=status, code=code, title=title, detail=detail,
                        instance=instance, errors=errors, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    return [
        field_error(_loc_to_field(e.get("loc", ())), e.get("msg", "invalid"), type=e.get("type"))
        for e in raw
    ]


def problem_for(exc: ProblemError, *, instance: str) -> JSONResponse:
    """The answer to a raised ProblemError: for the handler below and for pure ASGI routes
    that render their own errors."""
    return problem_response(
        status=exc.status, code=exc.code, title=exc.title, detail=exc.detail,
        instance=instance, errors=exc.errors, headers=exc.headers, **exc.extra,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_for(exc, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            status=422, code="validation-failed", title="The request did not validate",
            detail=f"Invalid fields: {fields}", instance=request.url.path, errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Every method of the path, not just those of the first route that matched it.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem_response(
            status=exc.status_code, code=codes.get(exc.status_code, "http-error"),
            title=str(exc.detail), detail=str(exc.detail), instance=request.url.path,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            status=500, code="internal-error", title="Internal server error",
            detail="An unexpected error occurred; it has been logged.",
            instance=request.url.path,
        )


# Responses to declare on routes so the OpenAPI shows the problem shape.
PROBLEM_SCHEMA = {
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    titles = {400: "Bad request", 401: "Missing or invalid API key", 403: "Missing scope",
              404: "Not found", 409: "Conflict", 413: "Body too large",
              415: "Unsupported content type", 422: "Validation failed",
              429: "Rate limited", 503: "Unavailable"}
    return {s: {"description": titles.get(s, "Error"), **PROBLEM_SCHEMA} for s in statuses}
