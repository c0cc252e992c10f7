"""HTTP helpers the ingest routers share: the raw or size-capped body, its media type, strict
JSON parsing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from services.ingest.settings import IngestSettings
from shared.errors import BadRequest, PayloadTooLarge, field_error
from shared.validation import MAX_DOCUMENT_DEPTH, json_too_deep


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (an async dependency, so sync routes can take it)."""
    return await request.body()


async def capped_body(request: Request, *, limit: int) -> bytes:
    """The body, or a 413 as soon as it is known to pass ``limit`` bytes (from its
    Content-Length, or while it streams in): an oversized body is never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is larger than {limit} bytes.",
                           errors=[field_error("body", f"at most {limit} bytes")])


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    # Python reads NaN and Infinity, JSON has neither, and PostgreSQL's jsonb refuses them.
    raise _NotJson(name)


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
        return json.loads(text, parse_constant=_refuse_constant)
    except _NotJson as exc:
        raise BadRequest("The body is not valid JSON.", errors=[field_error(
            "body", f"{exc} is not a JSON number")]) from None
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


