"""Where a simulated portfolio goes: straight into the database (tests, benches, demos), to
CSV / NDJSON files, or through the gateway API as a real client would send it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from services.scoring.simulator.portfolio import SOURCE, Portfolio
from shared.db import Database, is_postgres
from shared.event_types import project, validate_data
from shared.models import Customer, Event, IndustryOutlook

PROFILE_FIELDS = ("customer_id", "name", "legal_name", "industry", "country", "founded_on",
                  "employees", "annual_revenue", "revenue_currency", "credit_limit",
                  "credit_currency", "owner", "attributes")
EVENT_COLUMNS = ("source", "event_id", "type", "customer_id", "occurred_at", "received_at",
                 "data", "attributes", "amount", "currency", "ref_id", "due_on", "value",
                 "counterparty")


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def customer_row(profile: dict[str, Any]) -> dict[str, Any]:
    onboarded = dt.datetime.combine(profile["onboarded_on"], dt.time(), dt.UTC)
    row = {key: profile[key] for key in PROFILE_FIELDS}
    row.update(registration_ids={}, incomplete=False, created_at=onboarded, updated_at=onboarded)
    return row


def event_row(event: dict[str, Any]) -> dict[str, Any]:
    """The event table row ingest would store, typed columns filled by the shared projection."""
    occurred = _parse_time(event["time"])
    typed = project(event["type"], validate_data(event["type"], event["data"]))
    return {"source": event["source"], "event_id": event["id"], "type": event["type"],
            "customer_id": event["subject"], "occurred_at": occurred, "received_at": occurred,
            "data": event["data"], "attributes": {"specversion": event["specversion"]},
            **typed}


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_into_database(db: Database, portfolio: Portfolio, *, batch_size: int = 5000) -> dict[
        str, int]:
    """Bulk-insert customers, outlooks and events (PostgreSQL: COPY for the events)."""
    counts = {"customers": 0, "events": 0, "outlooks": 0}
    for batch in _batches(portfolio.customers, batch_size):
        with db.transaction() as session:
            session.execute(insert(Customer), [customer_row(c) for c in batch])
        counts["customers"] += len(batch)
    with db.transaction() as session:
        session.execute(insert(IndustryOutlook), [
            {"industry": o["industry"], "as_of": o["as_of"], "index_value": o["index"],
             "source": SOURCE,
             "received_at": dt.datetime.combine(o["as_of"], dt.time(), dt.UTC)}
            for o in portfolio.outlooks])
    counts["outlooks"] = len(portfolio.outlooks)
    postgres = is_postgres(db.engine)
    for batch in _batches(portfolio.events(), batch_size * 4):
        rows = [event_row(e) for e in batch]
        if postgres:
            _copy_events(db, rows)
        else:
            with db.transaction() as session:
                session.execute(insert(Event), rows)
        counts["events"] += len(rows)
    if postgres:
        # Fresh statistics, or the planner guesses badly on the feature queries.
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE customer, event, industry_outlook")
            conn.commit()
    return counts


def _copy_events(db: Database, rows: list[dict[str, Any]]) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(  # type: ignore[attr-defined]
                f"COPY event ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([
                    json.dumps(row[c]) if c in ("data", "attributes") else row[c]
                    for c in EVENT_COLUMNS])
        raw.commit()
    finally:
        raw.close()


# --- files ---------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def write_files(portfolio: Portfolio, directory: Path, *, fmt: str) -> dict[str, Path]:
    """customers + industry outlooks + events as CSV or NDJSON; plus a labelled CSV."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    profiles = [{k: _jsonable(v) for k, v in c.items() if k in PROFILE_FIELDS}
                for c in portfolio.customers]
    if fmt == "ndjson":
        paths["customers"] = directory / "customers.ndjson"
        with paths["customers"].open("w") as fh:
            for profile in profiles:
                fh.write(json.dumps(profile) + "\n")
        paths["events"] = directory / "events.ndjson"
        with paths["events"].open("w") as fh:
            for event in portfolio.events():
                fh.write(json.dumps(event) + "\n")
    else:
        paths["customers"] = directory / "customers.csv"
        with paths["customers"].open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=PROFILE_FIELDS)
            writer.writeheader()
            for profile in profiles:
                writer.writerow({**profile, "attributes": json.dumps(profile["attributes"])})
        paths["events"] = directory / "events.csv"
        with paths["events"].open("w", newline="") as fh:
            fields = ["id", "source", "type", "time", "subject", "data"]
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for event in portfolio.events():
                writer.writerow({**{k: event[k] for k in fields[:-1]},
                                 "data": json.dumps(event["data"])})
    paths["outlooks"] = directory / "industry_outlooks.csv"
    with paths["outlooks"].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["industry", "as_of", "index"])
        writer.writeheader()
        for outlook in portfolio.outlooks:
            writer.writerow({k: _jsonable(v) for k, v in outlook.items()})
    paths["labelled"] = directory / "labelled.csv"
    paths["labelled"].write_text(labelled_csv(portfolio))
    return paths


def labelled_csv(portfolio: Portfolio) -> str:
    """One row per customer: profile columns and attributes, and whether it defaulted."""
    # The outcome is only known once the events have been generated.
    for _ in portfolio.events():
        pass
    buffer = io.StringIO()
    fields = ["customer_id", "industry", "country", "employees", "annual_revenue", "segment",
              "payment_method", "defaulted"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for c in portfolio.customers:
        writer.writerow({
            "customer_id": c["customer_id"], "industry": c["industry"], "country": c["country"],
            "employees": c["employees"], "annual_revenue": str(c["annual_revenue"]),
            **c["attributes"],
            "defaulted": int(bool(portfolio.truth[c["customer_id"]].get("defaulted")))})
    return buffer.getvalue()


# --- through the gateway -------------------------------------------------------------------

def outlook_events(portfolio: Portfolio) -> list[dict[str, Any]]:
    """Industry outlooks as industry-wide ``industry.outlook`` CloudEvents (no subject)."""
    return [{"specversion": "1.0", "id": f"outlook-{o['industry']}-{o['as_of'].isoformat()}",
             "source": SOURCE, "type": "industry.outlook",
             "time": f"{o['as_of'].isoformat()}T00:00:00Z",
             "data": {"industry": o["industry"], "index": o["index"]}}
            for o in portfolio.outlooks]


def push_through_api(portfolio: Portfolio, *, gateway: str, api_key: str,
                     batch_size: int = 1000, timeout: float = 60.0,
                     progress: Callable[[dict[str, int], int], None] | None = None,
                     concurrency: int = 1) -> dict[str, int]:
    """As a CRM would: profiles to ``POST /v1/customers/batch`` ({"customers": [...]}),
    outlooks and then CloudEvents to ``POST /v1/events/batch`` (a JSON array), ≤1000 each.
    ``progress(counts so far, total items)`` is called after each batch; ``concurrency``
    event batches are in flight at once (profiles always go first: events name them)."""
    counts = {"customers": 0, "events": 0, "outlooks": 0}
    events = list(portfolio.events())
    outlooks = outlook_events(portfolio)
    total = len(portfolio.customers) + len(outlooks) + len(events)
    tell = progress or (lambda _counts, _total: None)
    headers = {"Authorization": f"Bearer {api_key}"}
    size = min(batch_size, 1000)
    with httpx.Client(base_url=gateway.rstrip("/"), headers=headers, timeout=timeout) as client:
        profiles = [{k: _jsonable(v) for k, v in c.items() if k in PROFILE_FIELDS}
                    for c in portfolio.customers]
        for batch in _batches(profiles, size):
            client.post("/v1/customers/batch", json={"customers": batch}).raise_for_status()
            counts["customers"] += len(batch)
            tell(counts, total)
        for batch in _batches(outlooks, size):
            client.post("/v1/events/batch", json=batch).raise_for_status()
            counts["outlooks"] += len(batch)
            tell(counts, total)
        def send(batch: list[dict[str, Any]]) -> int:
            client.post("/v1/events/batch", json=batch).raise_for_status()
            return len(batch)

        with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
            for sent in pool.map(send, _batches(events, size)):
                counts["events"] += sent
                tell(counts, total)
    return counts
