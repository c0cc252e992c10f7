"""Small builders for test payloads."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def cloudevent(type_: str = "order.placed", *, subject: str | None = "cust-1",
               data: Any = None, **attrs: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0", "id": f"evt-{next(_ids)}", "source": "erp/test", "type": type_,
        "time": "2026-11-01T10:00:00Z",
    }
    if subject is not None:
        event["subject"] = subject
    if data is None and type_ == "order.placed":
        data = {"order_id": "o-1", "amount": "250.00", "currency": "EUR"}
    if data is not None:
        event["data"] = data
    event.update(attrs)
    return event


def invoice(invoice_id: str, amount: str, due: str, *, subject: str = "cust-1") -> dict[str, Any]:
    return cloudevent("invoice.issued", subject=subject, data={
        "invoice_id": invoice_id, "amount": amount, "currency": "EUR", "due_date": due})


def payment(invoice_id: str, amount: str, *, subject: str = "cust-1") -> dict[str, Any]:
    return cloudevent("payment.received", subject=subject, data={
        "invoice_id": invoice_id, "amount": amount, "currency": "EUR"})
