"""The watch list: who moved down a tier, whose PD or overdue rose since a date, most urgent
first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from services.scoring.watchlist import repository
from services.scoring.watchlist.schemas import MONEY_SORTS, WatchFilter, WatchItem, WatchPage
from shared import pagination
from shared.models import utcnow


def watch_list(session: Session, *, filters: WatchFilter, cursor: str | None,
               limit: int) -> WatchPage:
    since = utcnow() - dt.timedelta(days=filters.since_days)
    after = _after(cursor, filters) if cursor else None
    rows = repository.page(session, filters=filters, since=since, after=after,
                           limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    histories = repository.pd_histories(session, [r["customer_id"] for r in rows])
    items = [WatchItem(**{k: v for k, v in row.items() if k != "sort_value"},
                       pd_history=histories.get(row["customer_id"], [])) for row in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value = str(last["sort_value"]) if filters.sort in MONEY_SORTS else \
            float(last["sort_value"])
        next_cursor = pagination.encode(filters.sort, value, last["customer_id"])
    return WatchPage(items=items, next_cursor=next_cursor, since=since)


def _after(cursor: str, filters: WatchFilter) -> tuple[Any, str]:
    """The last row's sort value and id; a cursor of another sort order is refused."""
    value_type: type = str if filters.sort in MONEY_SORTS else float
    sort, value, customer_id = pagination.decode(cursor, types=(str, value_type, str))
    if sort != filters.sort:
        raise pagination.InvalidCursor("The cursor belongs to another sort order; start "
                                       "again without it.")
    if filters.sort in MONEY_SORTS:
        try:
            return Decimal(value), customer_id
        except InvalidOperation:
            raise pagination.InvalidCursor("The cursor is not one this API gave out; start "
                                           "again without it.") from None
    return float(value), customer_id
