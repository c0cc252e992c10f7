"""CloudEvents protocol bindings for message buses: a broker message (its body, content type
and headers) becomes the JSON object ``POST /v1/events`` would have been given, or
:class:`MessageMalformed` saying why not. Pure functions: no broker, no database.

- AMQP binding (RabbitMQ): structured mode is a body in the JSON event format with content
  type ``application/cloudevents+json``; binary mode carries the context attributes as
  application properties (AMQP 0-9-1 headers) prefixed ``cloudEvents_`` (or ``cloudEvents:``,
  the earlier spelling) and ``datacontenttype`` as the message's content type.
- NATS binding (JetStream): binary mode carries the attributes as ``ce-`` headers and
  ``datacontenttype`` as ``Content-Type``; without ``ce-specversion`` the payload is the
  event in the JSON format (structured mode, the binding's original and only mode in 1.0).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from shared.validation import json_too_deep

STRUCTURED = "application/cloudevents+json"
AMQP_PREFIXES = ("cloudEvents_", "cloudEvents:")
NATS_PREFIX = "ce-"


class MessageMalformed(Exception):
    """Why a message cannot be read as a CloudEvent (sent with it to the dead letters)."""


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json(body: bytes, what: str) -> Any:
    if json_too_deep(body):
        raise MessageMalformed(f"{what} is nested too deep")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise MessageMalformed(f"{what} is not UTF-8") from None
    except ValueError as exc:
        raise MessageMalformed(f"{what} is not JSON: {exc}") from None
    return value


def _structured(body: bytes) -> dict[str, Any]:
    event = _json(body, "the structured-mode body")
    if not isinstance(event, dict):
        raise MessageMalformed("a structured-mode body must be one JSON object (an event)")
    return event


def _attribute(value: Any) -> Any:
    """An application property as a CloudEvents attribute value (AMQP has typed values)."""
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise MessageMalformed("an attribute property is not UTF-8") from None
    if isinstance(value, dt.datetime):  # the AMQP timestamp type, allowed for `time`
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.isoformat()
    return value


def _with_data(event: dict[str, Any], body: bytes, content_type: str | None) -> dict[str, Any]:
    media = _media(content_type)
    if content_type:
        event["datacontenttype"] = content_type
    if not body:
        return event
    if not media or _is_json(media):
        event["data"] = _json(body, "the data")
    elif media.startswith("text/"):
        try:
            event["data"] = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageMalformed("text data is not UTF-8") from None
    else:
        event["data_base64"] = base64.b64encode(body).decode("ascii")
    return event


def amqp_event(body: bytes, *, content_type: str | None,
               properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """The CloudEvent an AMQP message carries (structured or binary mode)."""
    attributes = {}
    for name, value in (properties or {}).items():
        for prefix in AMQP_PREFIXES:
            if name.startswith(prefix):
                attributes[name[len(prefix):]] = _attribute(value)
    if "specversion" in attributes:
        return _with_data(attributes, body, content_type)
    if _media(content_type) == STRUCTURED:
        return _structured(body)
    raise MessageMalformed(
        f"not a CloudEvent: content type {content_type or 'none'!r} is not {STRUCTURED} "
        "(structured mode) and no cloudEvents_specversion property is set (binary mode)")


def nats_event(body: bytes, *, headers: Mapping[str, str] | None) -> dict[str, Any]:
    """The CloudEvent a NATS message carries (binary mode with ``ce-`` headers, else
    structured)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    attributes: dict[str, Any] = {k[len(NATS_PREFIX):]: v for k, v in lowered.items()
                                  if k.startswith(NATS_PREFIX)}
    if "specversion" in attributes:
        return _with_data(attributes, body, lowered.get("content-type"))
    return _structured(body)
