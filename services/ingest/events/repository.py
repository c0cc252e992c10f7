"""SQL for events: alias resolution, minimal customers, de-duplicating inserts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.ingest.repository import insert_for
from shared.models import Customer, CustomerAlias, Event, IndustryOutlook

# Minimal customers carry the oldest possible version, so the first real profile always
# applies whatever its own `updated_at`.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def resolve_aliases(session: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(source, external id) -> customer_id for the pairs that have an alias."""
    found: dict[tuple[str, str], str] = {}
    ordered = sorted(pairs)
    for chunk in _chunks(ordered):
        rows = session.execute(
            select(CustomerAlias.source, CustomerAlias.external_id, CustomerAlias.customer_id)
            .where(tuple_(CustomerAlias.source, CustomerAlias.external_id).in_(chunk))
        ).all()
        found.update({(s, e): c for s, e, c in rows})
    return found


def ensure_customers(session: Session, customer_ids: Iterable[str], *, now: dt.datetime) -> None:
    """Create a minimal, incomplete customer for every id not known yet."""
    rows = [
        {"customer_id": cid, "registration_ids": {}, "attributes": {}, "incomplete": True,
         "updated_at": EPOCH, "created_at": now}
        for cid in sorted(set(customer_ids))
    ]
    if rows:
        stmt = insert_for(session)(Customer).on_conflict_do_nothing(
            index_elements=[Customer.customer_id])
        session.execute(stmt, rows)


def insert_events(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert events, skipping any (source, event_id) already stored; the new ones' ids."""
    if not rows:
        return {}
    stmt = (
        insert_for(session)(Event)
        .on_conflict_do_nothing(index_elements=[Event.source, Event.event_id])
        .returning(Event.source, Event.event_id, Event.id)
    )
    result = session.execute(stmt, rows)
    return {(source, event_id): pk for source, event_id, pk in result.all()}


def insert_outlooks(session: Session, rows: list[dict[str, Any]]) -> set[tuple[str, str, dt.date]]:
    """Insert industry outlooks, skipping (source, industry, as_of) already stored."""
    if not rows:
        return set()
    stmt = (
        insert_for(session)(IndustryOutlook)
        .on_conflict_do_nothing(index_elements=[IndustryOutlook.source, IndustryOutlook.industry,
                                                IndustryOutlook.as_of])
        .returning(IndustryOutlook.source, IndustryOutlook.industry, IndustryOutlook.as_of)
    )
    return {(s, i, a) for s, i, a in session.execute(stmt, rows).all()}
