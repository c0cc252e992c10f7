"""Small builders for scoring tests: a customer and hand-written events, stored the way ingest
stores them (typed columns through the shared projection)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from services.scoring.simulator.loader import event_row
from shared.db import Database
from shared.models import Customer, Event, IndustryOutlook

_ids = itertools.count(1)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def add_customer(db: Database, customer_id: str = "c-1", **fields: Any) -> str:
    row: dict[str, Any] = {
        "customer_id": customer_id, "name": f"Customer {customer_id}", "industry": "retail",
        "country": "DE", "founded_on": dt.date(2015, 1, 1), "employees": 40,
        "annual_revenue": Decimal("2000000.00"), "revenue_currency": "EUR",
        "credit_limit": Decimal("50000.00"), "credit_currency": "EUR", "attributes": {},
        "registration_ids": {}, "incomplete": False,
    }
    row.update(fields)
    with db.transaction() as session:
        session.execute(insert(Customer), [row])
    return customer_id


def event(customer_id: str, event_type: str, at: dt.datetime, **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"t-{next(_ids)}", "source": "tests",
            "type": event_type, "time": at.isoformat(), "subject": customer_id, "data": data}


def add_events(db: Database, *events: dict[str, Any]) -> None:
    with db.transaction() as session:
        session.execute(insert(Event), [event_row(e) for e in events])


def add_outlook(db: Database, industry: str, as_of: dt.date, index: float) -> None:
    with db.transaction() as session:
        session.execute(insert(IndustryOutlook), [{
            "industry": industry, "as_of": as_of, "index_value": index, "source": "tests",
            "received_at": T0}])


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)
