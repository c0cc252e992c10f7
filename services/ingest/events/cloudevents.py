"""CloudEvents 1.0 in: one JSON object (structured mode, or rebuilt from binary-mode ``ce-*``
headers) becomes a validated :class:`NewEvent`, or a list of field errors naming what is wrong.
Pure functions: no HTTP, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from shared.errors import field_error
from shared.event_types import IndustryOutlookData, project, validate_data
from shared.validation import customer_id_problem, fields_problems

SPECVERSION = "1.0"
# Context attributes with a column of their own; everything else goes to `attributes`.
_COLUMNS = {"id", "source", "type", "subject", "time", "data"}
# Optional context attributes whose type CloudEvents 1.0 fixes (kept as attributes).
_STRING_ATTRIBUTES = ("datacontenttype", "dataschema")
_LIMITS = {"id": 255, "source": 255, "type": 100, "subject": 128}


class EventInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class NewEvent:
    source: str
    event_id: str
    type: str
    subject: str | None
    occurred_at: dt.datetime
    data: Any
    attributes: dict[str, Any]
    columns: dict[str, Any]
    outlook: IndustryOutlookData | None = None
    # Filled in by the service once aliases are resolved.
    customer_id: str | None = field(default=None)


def parse_time(value: Any) -> dt.datetime:
    """An RFC 3339 timestamp with an offset, as UTC (raises ValueError otherwise)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    parsed = dt.datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-01-31T09:30:00Z")
    return parsed.astimezone(dt.UTC)


def _data_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        field_error(".".join(["data", *(str(p) for p in err["loc"])]).rstrip("."), err["msg"])
        for err in exc.errors()
    ]


def _envelope_errors(obj: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """What is wrong with the context attributes (the slow path, for invalid events)."""
    errors: list[dict[str, Any]] = []
    specversion = obj.get("specversion")
    if specversion is None:
        errors.append(field_error(prefix + "specversion", "required attribute is missing"))
    elif specversion != SPECVERSION:
        errors.append(field_error(prefix + "specversion", "only CloudEvents 1.0 is supported"))
    for name in ("id", "source", "type", "subject"):
        value = obj.get(name)
        if value is None:
            if name != "subject":
                errors.append(field_error(prefix + name, "required attribute is missing"))
        elif not isinstance(value, str) or not value.strip():
            errors.append(field_error(prefix + name, "must be a non-empty string"))
        elif len(value) > _LIMITS[name]:
            errors.append(field_error(prefix + name, f"at most {_LIMITS[name]} characters"))
    return errors


def _well_formed(value: Any, limit: int) -> bool:
    return type(value) is str and 0 < len(value) <= limit and not value.isspace()


def parse_event(obj: Any, *, received_at: dt.datetime, prefix: str = "") -> NewEvent:
    """Validate one CloudEvent; field names in errors carry ``prefix`` (e.g. ``[3].``)."""
    if not isinstance(obj, dict):
        raise EventInvalid([field_error(prefix.rstrip(".") or "body",
                                        "an event must be a JSON object")])
    event_id, source, event_type = obj.get("id"), obj.get("source"), obj.get("type")
    subject = obj.get("subject")
    if (obj.get("specversion") == SPECVERSION and _well_formed(event_id, 255)
            and _well_formed(source, 255) and _well_formed(event_type, 100)
            and (subject is None or _well_formed(subject, 128))):
        errors: list[dict[str, Any]] = []
    else:
        errors = _envelope_errors(obj, prefix)
        event_type = event_type if _well_formed(event_type, 100) else None
    occurred_at = received_at
    if obj.get("time") is not None:
        try:
            occurred_at = parse_time(obj["time"])
        except ValueError as exc:
            errors.append(field_error(prefix + "time", str(exc)))
    # Text the database cannot hold, and free-form maps nested too deep, anywhere in the
    # event (attribute names included): only this event is refused, never its batch.
    errors.extend(fields_problems(obj, prefix=prefix))
    if subject is None and event_type != "industry.outlook":
        errors.append(field_error(prefix + "subject",
                                  "required: the subject is the customer id"))
    elif isinstance(subject, str) and (problem := customer_id_problem(subject)):
        errors.append(field_error(prefix + "subject", problem))
    for name, value in obj.items():
        if name in _STRING_ATTRIBUTES and not isinstance(value, str):
            errors.append(field_error(prefix + name, "must be a string"))
        elif name not in _COLUMNS and not isinstance(value, str | int | float | bool):
            errors.append(field_error(prefix + name, "an extension attribute must be a "
                                                     "string, number or boolean"))
    data = obj.get("data")
    validated = None
    if event_type is not None:
        try:
            validated = validate_data(event_type, data)
        except ValidationError as exc:
            errors.extend(field_error(prefix + e["field"], e["message"])
                          for e in _data_errors(exc))
    if errors:
        raise EventInvalid(errors)
    # Without errors, id, source and type are well-formed strings.
    event_type = cast(str, event_type)
    attributes = {k: v for k, v in obj.items() if k not in _COLUMNS}
    return NewEvent(
        source=cast(str, source), event_id=cast(str, event_id), type=event_type,
        subject=subject, occurred_at=occurred_at, data=data, attributes=attributes,
        columns=project(event_type, validated),
        outlook=validated if isinstance(validated, IndustryOutlookData) else None,
    )
