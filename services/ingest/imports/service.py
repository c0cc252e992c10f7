"""CSV imports of customers, events and external ratings (with industry outlooks).

Rows are read one at a time and written in chunks through the same services as the API, so
an import follows the same rules (validation, versioned upserts, de-duplication, enqueued
work). Re-importing a file changes nothing: its events are duplicates, its profiles
unchanged. A broken encoding or CSV syntax aborts the whole import (the request's
transaction rolls back); an invalid row is only reported.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.ingest.customers.schemas import CustomerIn
from services.ingest.customers.service import upsert_customers
from services.ingest.events.service import ingest_events
from services.ingest.imports.csvrows import CsvLimits, open_csv, require_columns


class ImportKind(enum.StrEnum):
    customers = "customers"
    events = "events"
    ratings = "ratings"


class RowInvalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass
class ImportReport:
    kind: str
    max_reported: int
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int, field_name: str, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < self.max_reported:
            self.rejections.append({"line": line, "field": field_name, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "accepted": self.accepted,
                "duplicate": self.duplicate, "rejected": self.rejected,
                "rejections": sorted(self.rejections, key=lambda r: r["line"]),
                "rejections_truncated": self.rejected > len(self.rejections)}


REQUIRED = {
    ImportKind.customers: {"customer_id"},
    ImportKind.events: {"id", "source", "type"},
    ImportKind.ratings: {"as_of"},
}
# Event attribute -> the ratings file's column, so rejections name what the user wrote.
_RATING_FIELDS = {"subject": "customer_id", "time": "as_of", "id": "as_of",
                  "data.agency": "agency", "data.rating": "rating", "data.score": "score",
                  "data.industry": "industry", "data.index": "index"}


def import_csv(session: Session, *, kind: ImportKind, raw: BinaryIO, chunk_rows: int = 1000,
               max_reported: int = 1000, limits: CsvLimits | None = None) -> ImportReport:
    header, rows = open_csv(raw, limits)
    require_columns(header, REQUIRED[kind])
    if kind is ImportKind.ratings and not {"customer_id", "industry"} & set(header):
        require_columns(header, {"customer_id"})
    report = ImportReport(kind=kind.value, max_reported=max_reported)
    convert: Callable[[dict[str, str]], Any] = {
        ImportKind.customers: customer_item, ImportKind.events: event_item,
        ImportKind.ratings: rating_item}[kind]
    chunk: list[tuple[int, Any]] = []
    for line, row, problem in rows:
        report.rows += 1
        if problem:
            report.reject(line, f"line {line}", problem)
            continue
        try:
            chunk.append((line, convert(row)))
        except RowInvalid as exc:
            report.reject(line, exc.field, exc.reason)
            continue
        if len(chunk) >= chunk_rows:
            _write(session, kind, chunk, report)
            chunk = []
    if chunk:
        _write(session, kind, chunk, report)
    return report


def _write(session: Session, kind: ImportKind, chunk: list[tuple[int, Any]],
           report: ImportReport) -> None:
    if kind is ImportKind.customers:
        outcomes = upsert_customers(session, profiles=[p for _, p in chunk])
        for outcome in outcomes:
            if outcome.status in ("created", "updated"):
                report.accepted += 1
            else:
                report.duplicate += 1
        return
    results = ingest_events(session, items=[item for _, item in chunk], field_prefix=False)
    for (line, _), result in zip(chunk, results, strict=True):
        if result.status == "accepted":
            report.accepted += 1
        elif result.status == "duplicate":
            report.duplicate += 1
        else:
            error = result.errors[0]
            name = error["field"]
            if kind is ImportKind.ratings:
                name = _RATING_FIELDS.get(name, name)
            report.reject(line, name, error["message"])


def customer_item(row: dict[str, str]) -> CustomerIn:
    values: dict[str, Any] = {}
    for name, value in row.items():
        prefix, _, key = name.partition(".")
        if key and prefix in ("registration_ids", "attributes"):
            values.setdefault(prefix, {})[key] = value
        elif name == "aliases":
            values["aliases"] = [_alias(part) for part in value.split(";") if part.strip()]
        else:
            values[name] = value
    try:
        return CustomerIn.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"]) or "row"
        raise RowInvalid(name, error["msg"]) from None


def _alias(text: str) -> dict[str, str]:
    source, _, external_id = text.strip().partition("=")
    if not source or not external_id:
        raise RowInvalid("aliases", "write aliases as source=external_id;source=external_id")
    return {"source": source.strip(), "external_id": external_id.strip()}


def event_item(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {"specversion": "1.0"}
    data: Any = None
    for name, value in row.items():
        if name == "data":
            try:
                data = json.loads(value)
            except json.JSONDecodeError as exc:
                raise RowInvalid("data", f"not valid JSON: {exc.msg}") from None
        elif name.startswith("data."):
            continue
        elif name != "specversion":
            item[name] = value
    flat = {name[5:]: value for name, value in row.items() if name.startswith("data.")}
    if flat:
        if data is not None and not isinstance(data, dict):
            raise RowInvalid("data", "a JSON object is needed when data.* columns are used")
        data = {**(data or {}), **flat}
    if data is not None:
        item["data"] = data
    return item


def rating_item(row: dict[str, str]) -> dict[str, Any]:
    as_of = row.get("as_of", "")
    agency = row.get("agency", "")
    customer_id = row.get("customer_id")
    if customer_id:
        if not agency:
            raise RowInvalid("agency", "required for a credit rating")
        return {"specversion": "1.0", "id": f"{customer_id}/{as_of}",
                "source": f"import/ratings/{agency}", "type": "credit_rating.updated",
                "subject": customer_id, "time": f"{as_of}T00:00:00Z",
                "data": {"agency": agency, "rating": row.get("rating"),
                         "score": row.get("score")}}
    industry = row.get("industry")
    if not industry:
        raise RowInvalid("customer_id", "a rating row needs customer_id, an outlook row industry")
    return {"specversion": "1.0", "id": f"{industry}/{as_of}",
            "source": f"import/outlooks/{agency or 'unspecified'}", "type": "industry.outlook",
            "time": f"{as_of}T00:00:00Z", "data": {"industry": industry,
                                                    "index": row.get("index")}}
