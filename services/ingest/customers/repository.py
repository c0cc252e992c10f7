"""SQL for customer profiles, aliases and the history summary."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import dialect_insert
from shared.models import Customer, CustomerAlias, Event


def lock(session: Session, customer_id: str) -> Customer | None:
    return session.get(Customer, customer_id, with_for_update=True, populate_existing=True)


def insert_new(session: Session, values: dict[str, Any]) -> bool:
    """Insert a customer unless one with that id exists (a concurrent writer won the race)."""
    stmt = (dialect_insert(session)(Customer).values(**values)
            .on_conflict_do_nothing(index_elements=[Customer.customer_id])
            .returning(Customer.customer_id))
    return session.execute(stmt).first() is not None


def upsert_aliases(session: Session, customer_id: str,
                   aliases: Iterable[tuple[str, str]]) -> None:
    rows = [{"source": s, "external_id": e, "customer_id": customer_id}
            for s, e in sorted(set(aliases))]
    if not rows:
        return
    stmt = dialect_insert(session)(CustomerAlias)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CustomerAlias.source, CustomerAlias.external_id],
        set_={"customer_id": stmt.excluded.customer_id})
    session.execute(stmt, rows)


def aliases_of(session: Session, customer_id: str) -> list[CustomerAlias]:
    return list(session.scalars(select(CustomerAlias).where(
        CustomerAlias.customer_id == customer_id).order_by(CustomerAlias.source,
                                                           CustomerAlias.external_id)))


def event_counts(session: Session, customer_id: str) -> dict[str, int]:
    rows = session.execute(select(Event.type, func.count()).where(
        Event.customer_id == customer_id).group_by(Event.type)).all()
    return {t: n for t, n in sorted(rows)}


def last_event(session: Session, customer_id: str) -> Event | None:
    return session.scalar(select(Event).where(Event.customer_id == customer_id)
                          .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(1))


def invoices(session: Session, customer_id: str) -> list[Any]:
    """Issued invoices (the latest issue event per invoice id wins)."""
    rows = session.execute(
        select(Event.ref_id, Event.amount, Event.currency, Event.due_on, Event.occurred_at)
        .where(Event.customer_id == customer_id, Event.type == "invoice.issued")
        .order_by(Event.occurred_at, Event.id)
    ).all()
    latest = {row.ref_id: row for row in rows}
    return list(latest.values())


def paid_by_invoice(session: Session, customer_id: str) -> dict[str, Decimal]:
    rows = session.execute(
        select(Event.ref_id, func.sum(Event.amount))
        .where(Event.customer_id == customer_id, Event.type == "payment.received")
        .group_by(Event.ref_id)
    ).all()
    return {ref: Decimal(total or 0) for ref, total in rows if ref is not None}


def written_off(session: Session, customer_id: str) -> set[str]:
    return set(session.scalars(select(Event.ref_id).where(
        Event.customer_id == customer_id, Event.type == "invoice.written_off")))
