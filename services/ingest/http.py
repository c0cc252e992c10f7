"""HTTP helpers the ingest routers share: the raw body, its media type, strict JSON parsing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from services.ingest.settings import IngestSettings
from shared.auth import secured
from shared.errors import BadRequest, field_error


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (an async dependency, so sync routes can take it)."""
    return await request.body()


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def parse_json(body: bytes) -> Any:
    """Parse a UTF-8 JSON body or raise a 400 problem saying where it breaks."""
    if not body.strip():
        raise BadRequest("The body is empty.",
                         errors=[field_error("body", "a JSON body is required")])
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The body is not UTF-8.", errors=[field_error(
            "body", f"invalid UTF-8 at byte {exc.start}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest("The body is not valid JSON.", errors=[field_error(
            "body", f"{exc.msg} at line {exc.lineno} column {exc.colno}")]) from None


def settings_of(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.ingest_settings
    return settings


async def ingest_settings(request: Request) -> IngestSettings:
    """The settings as a dependency (async: no threadpool hop for a dictionary lookup)."""
    return settings_of(request)


def secured_route(*scopes: str, extra_errors: tuple[int, ...] = (),
                  request_body: dict[str, Any] | None = None,
                  responses: dict[int | str, dict[str, Any]] | None = None,
                  parameters: list[dict[str, Any]] | None = None,
                  dependencies: list[Any] | None = None) -> dict[str, Any]:
    """``shared.auth.secured`` plus a hand-written request body for routes reading raw bytes."""
    kwargs = secured(*scopes, extra_errors=extra_errors)
    kwargs["responses"] = {**kwargs["responses"], **(responses or {})}
    kwargs["dependencies"] = [*kwargs["dependencies"], *(dependencies or [])]
    if request_body is not None:
        kwargs["openapi_extra"] = {**kwargs["openapi_extra"], "requestBody": request_body}
    if parameters is not None:
        kwargs["openapi_extra"] = {**kwargs["openapi_extra"], "parameters": parameters}
    return kwargs
