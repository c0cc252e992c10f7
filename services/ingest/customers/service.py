"""Versioned customer upserts and the background check (profile + history summary)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.ingest.customers import repository
from services.ingest.customers.schemas import (
    AliasOut,
    BackgroundCheck,
    CustomerIn,
    CustomerOut,
    History,
    LastEvent,
    OpenInvoice,
)
from shared.errors import NotFound
from shared.models import Customer, utcnow
from shared.queue import enqueue_batch
from shared.topics import SCORING_RESCORE

Status = Literal["created", "updated", "unchanged", "stale"]
_NOT_PROFILE = {"customer_id", "aliases", "updated_at"}


@dataclass
class UpsertOutcome:
    customer_id: str
    status: Status
    updated_at: dt.datetime


def upsert_customers(session: Session, *, profiles: Sequence[CustomerIn],
                     now: dt.datetime | None = None) -> list[UpsertOutcome]:
    """Apply each profile version unless the stored one is newer; answer in input order.

    Rows are locked in customer-id order so concurrent batches cannot deadlock. A changed
    profile enqueues a rescore of that customer in the same transaction.
    """
    now = now or utcnow()
    order = sorted(range(len(profiles)), key=lambda i: profiles[i].customer_id)
    outcomes: dict[int, UpsertOutcome] = {}
    for index in order:
        outcomes[index] = _upsert_one(session, profiles[index], now=now)
    rescore = [(o.customer_id, {"trigger": "profile"}) for o in outcomes.values()
               if o.status in ("created", "updated")]
    enqueue_batch(session, topic=SCORING_RESCORE, items=rescore, coalesce=True, now=now)
    return [outcomes[i] for i in range(len(profiles))]


def _upsert_one(session: Session, profile: CustomerIn, *, now: dt.datetime) -> UpsertOutcome:
    fields = profile.model_dump(exclude_unset=True, exclude=_NOT_PROFILE)
    for name in ("registration_ids", "attributes"):
        if name in fields and fields[name] is None:
            fields[name] = {}
    version = (profile.updated_at or now).astimezone(dt.UTC)
    aliases = [(a.source, a.external_id) for a in profile.aliases]
    status: Status
    customer = repository.lock(session, profile.customer_id)
    if customer is None:
        created = repository.insert_new(session, {
            "registration_ids": {}, "attributes": {}, **fields,
            "customer_id": profile.customer_id, "incomplete": False,
            "updated_at": version, "created_at": now})
        if created:
            repository.upsert_aliases(session, profile.customer_id, aliases)
            return UpsertOutcome(profile.customer_id, "created", version)
        customer = repository.lock(session, profile.customer_id)
        assert customer is not None
    if not customer.incomplete and version < customer.updated_at:
        return UpsertOutcome(profile.customer_id, "stale", customer.updated_at)
    if not customer.incomplete and all(getattr(customer, k) == v for k, v in fields.items()):
        status = "unchanged"
    else:
        for name, value in fields.items():
            setattr(customer, name, value)
        customer.incomplete = False
        customer.updated_at = max(version, customer.updated_at)
        status = "updated"
    session.flush()
    repository.upsert_aliases(session, profile.customer_id, aliases)
    return UpsertOutcome(profile.customer_id, status, customer.updated_at)


def upsert_lenient(session: Session, *, customer_id: str, fields: dict[str, Any],
                   version: dt.datetime | None,
                   aliases: Sequence[tuple[str, str]] = ()) -> UpsertOutcome | None:
    """Upsert what validates of a profile another system sent (a CRM record, a
    ``customer.updated`` event): a field that does not validate is dropped, not the record.
    None when the customer id itself is not valid."""
    values: dict[str, Any] = {
        **{k: v for k, v in fields.items() if k not in _NOT_PROFILE},
        "customer_id": customer_id,
        "aliases": [{"source": s, "external_id": e} for s, e in aliases],
    }
    if version is not None:
        values["updated_at"] = version
    for _ in range(len(values)):
        try:
            profile = CustomerIn.model_validate(values)
            break
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]} - _NOT_PROFILE
            if not bad:
                bad = {"annual_revenue", "revenue_currency", "credit_limit", "credit_currency"}
            for name in bad:
                values.pop(name, None)
    else:  # only the id is left, and it does not validate
        return None
    return upsert_customers(session, profiles=[profile])[0]


def background_check(session: Session, *, customer_id: str,
                     today: dt.date | None = None) -> BackgroundCheck:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"No customer '{customer_id}'.")
    today = today or utcnow().date()
    profile = CustomerOut.model_validate(customer)
    profile.aliases = [AliasOut(source=a.source, external_id=a.external_id)
                       for a in repository.aliases_of(session, customer_id)]
    counts = repository.event_counts(session, customer_id)
    last = repository.last_event(session, customer_id)
    paid = repository.paid_by_invoice(session, customer_id)
    closed = repository.written_off(session, customer_id)
    open_invoices: list[OpenInvoice] = []
    open_amount: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for row in repository.invoices(session, customer_id):
        if row.ref_id in closed or row.amount is None:
            continue
        amount = Decimal(row.amount)
        remaining = amount - paid.get(row.ref_id, Decimal(0))
        if remaining <= 0:
            continue
        past_due = max((today - row.due_on).days, 0) if row.due_on else 0
        currency = row.currency or "XXX"
        open_invoices.append(OpenInvoice(
            invoice_id=row.ref_id, currency=row.currency, amount=amount,
            paid=amount - remaining, open_amount=remaining, due_on=row.due_on,
            days_past_due=past_due))
        open_amount[currency] = open_amount.get(currency, Decimal(0)) + remaining
        if past_due > 0:
            overdue[currency] = overdue.get(currency, Decimal(0)) + remaining
    open_invoices.sort(key=lambda i: (i.due_on or dt.date.max, i.invoice_id))
    history = History(
        total_events=sum(counts.values()), event_counts=counts,
        last_event=_last(last), open_invoices=open_invoices,
        open_amount=open_amount, overdue_amount=overdue)
    return BackgroundCheck(customer=profile, history=history)


def _last(event: Any) -> LastEvent | None:
    if event is None:
        return None
    return LastEvent(event_pk=event.id, id=event.event_id, source=event.source,
                     type=event.type, occurred_at=event.occurred_at)
