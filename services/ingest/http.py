"""HTTP helpers the ingest routers share: the raw body, its media type, strict JSON parsing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from services.ingest.settings import IngestSettings
from shared.errors import BadRequest, field_error
from shared.validation import MAX_DOCUMENT_DEPTH, json_too_deep


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (an async dependency, so sync routes can take it)."""
    return await request.body()


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def parse_json(body: bytes) -> Any:
    """Parse a UTF-8 JSON body or raise a 400 problem saying where it breaks. A body nested
    deeper than the parser can safely recurse is refused before it is parsed."""
    if not body.strip():
        raise BadRequest("The body is empty.",
                         errors=[field_error("body", "a JSON body is required")])
    if json_too_deep(body):
        raise BadRequest(f"The JSON body nests deeper than {MAX_DOCUMENT_DEPTH} levels.",
                         errors=[field_error("body", f"at most {MAX_DOCUMENT_DEPTH} levels of "
                                                     "nested objects and arrays")])
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
    except RecursionError:  # unbalanced brackets the depth check let through
        raise BadRequest("The body is not valid JSON.", errors=[field_error(
            "body", "nested too deeply")]) from None


def settings_of(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.ingest_settings
    return settings


async def ingest_settings(request: Request) -> IngestSettings:
    """The settings as a dependency (async: no threadpool hop for a dictionary lookup)."""
    return settings_of(request)


