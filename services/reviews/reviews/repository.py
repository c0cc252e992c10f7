"""SQL for reviews: opening them (one statement per batch, duplicates skipped by the unique
keys), the due-review candidates, overdue marking, the worklist, and what a review page
reads of the customer's events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from services.reviews.portfolio import newest_overrides, real_customer
from shared.bulk import insert_new, insert_new_rows, table_of
from shared.db import dialect_insert
from shared.models import Customer, Event
from shared.models.base import UtcDateTime
from shared.models.reviews import OPEN_STATUSES, Review, ReviewNote
from shared.models.scoring import CustomerRisk, TierOverride


def insert_reviews(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Open these reviews; a row that would be a second open review of its customer or
    repeat a schedule key is skipped (that is what makes replicas safe). Returns new ids."""
    return [int(i) for i in insert_new(session, table_of(Review), list(rows), returning="id")]


def insert_scheduled_reviews(session: Session, rows: Sequence[dict[str, Any]]
                             ) -> list[tuple[int, str]]:
    """:func:`insert_reviews` for rows with a schedule key: (id, schedule key) of each one
    opened, so the caller knows which rows became reviews."""
    return [(int(i), str(key)) for i, key in insert_new_rows(
        session, table_of(Review), list(rows), returning=("id", "schedule_key"))]


def open_review_of(session: Session, customer_id: str) -> Review | None:
    return session.scalars(select(Review).where(Review.customer_id == customer_id,
                                                Review.status.in_(OPEN_STATUSES))).first()


def customers_with_open_review(session: Session, customer_ids: Sequence[str]) -> set[str]:
    return set(session.scalars(select(Review.customer_id).where(
        Review.customer_id.in_(list(customer_ids)), Review.status.in_(OPEN_STATUSES))))


def due_candidates(session: Session, *, cutoffs: dict[str, dt.datetime],
                   now: dt.datetime) -> list[Any]:
    """Customers without an open review whose last review (or, never reviewed, whose
    arrival) is at least their tier's cadence ago: (customer_id, anchor, tier, pd)."""
    last_done = (select(Review.customer_id, func.max(Review.completed_at).label("done_at"))
                 .where(Review.status == "completed").group_by(Review.customer_id)
                 .subquery())
    newest = newest_overrides(now)
    override = aliased(TierOverride)
    anchor = func.coalesce(last_done.c.done_at, Customer.created_at)
    tier = func.coalesce(override.tier, CustomerRisk.tier)
    cutoff: ColumnElement[Any] = case(
        *((tier == name, literal(cutoffs[name], UtcDateTime())) for name in ("high", "medium")),
        else_=literal(cutoffs["low"], UtcDateTime()))
    has_open = exists().where(Review.customer_id == Customer.customer_id,
                              Review.status.in_(OPEN_STATUSES))
    query = (select(Customer.customer_id, anchor.label("anchor"), tier.label("tier"),
                    CustomerRisk.pd_default)
             .outerjoin(CustomerRisk, CustomerRisk.customer_id == Customer.customer_id)
             .outerjoin(last_done, last_done.c.customer_id == Customer.customer_id)
             .outerjoin(newest, newest.c.customer_id == Customer.customer_id)
             .outerjoin(override, override.id == newest.c.id)
             .where(anchor <= cutoff, ~has_open, real_customer()))
    return list(session.execute(query))


def mark_overdue(session: Session, *, today: dt.date, now: dt.datetime) -> int:
    result = session.execute(
        update(Review).where(Review.status.in_(OPEN_STATUSES), Review.deadline_on < today,
                             Review.overdue_at.is_(None))
        .values(overdue_at=now).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def get(session: Session, review_id: int, *, lock: bool = False) -> Review | None:
    query = select(Review).where(Review.id == review_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def page(session: Session, *, where: Sequence[ColumnElement[bool]],
         after: tuple[dt.date, int] | None, limit: int) -> list[Review]:
    """Reviews in worklist order (due date, then id), after the cursor's key."""
    query = select(Review).where(*where)
    if after is not None:
        due_on, review_id = after
        query = query.where((Review.due_on > due_on)
                            | ((Review.due_on == due_on) & (Review.id > review_id)))
    return list(session.scalars(query.order_by(Review.due_on, Review.id).limit(limit)))


def add_note(session: Session, *, review_id: int, author: str, body: str,
             now: dt.datetime) -> ReviewNote:
    note = ReviewNote(review_id=review_id, author=author, body=body, created_at=now)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, review_id: int) -> list[ReviewNote]:
    return list(session.scalars(select(ReviewNote).where(ReviewNote.review_id == review_id)
                                .order_by(ReviewNote.id)))


def events_by_type(session: Session, customer_id: str,
                   since: dt.datetime | None) -> dict[str, int]:
    """Events the last review could not have seen, counted by type: those that happened
    after ``since`` and those that arrived after it (a late CRM sync about the past)."""
    query = (select(Event.type, func.count()).where(Event.customer_id == customer_id)
             .group_by(Event.type))
    if since is not None:
        query = query.where((Event.occurred_at > since) | (Event.received_at > since))
    return {event_type: int(count) for event_type, count in session.execute(query)}


def last_event_at(session: Session, customer_id: str) -> dt.datetime | None:
    value: dt.datetime | None = session.scalar(
        select(func.max(Event.occurred_at)).where(Event.customer_id == customer_id))
    return value


def insert_event(session: Session, row: dict[str, Any]) -> int | None:
    """Store an event riskwatch itself emits (a review's credit-limit change); None when
    its (source, id) is already stored."""
    stmt = dialect_insert(session)(Event).values(**row).on_conflict_do_nothing() \
        .returning(Event.id)
    event_pk: int | None = session.scalar(stmt)
    return event_pk


def customer(session: Session, customer_id: str) -> Customer | None:
    return session.get(Customer, customer_id)
