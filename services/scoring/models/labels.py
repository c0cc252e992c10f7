"""Outcomes for training labels (DOMAIN.md "Models").

default: a ``customer.defaulted`` or ``invoice.written_off``, or an invoice 90+ days past due,
within the horizon after the snapshot. churn: a ``customer.churned``, or no order for
``inactivity_days`` after the snapshot (for a customer who was ordering before it), within the
horizon. A customer whose outcome already happened by the snapshot is not in that snapshot.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.scoring.features.repository import EPOCH, _day


@dataclass
class Outcomes:
    first_bad: dict[str, int]  # customer -> first day (since epoch) of the target outcome
    order_days: dict[str, list[int]]  # churn only: sorted order days
    last_day: int  # last day with any event: labels need their horizon inside the data

    def label(self, customer_id: str, day: int, *, horizon: int,
              inactivity_days: int | None) -> bool | None:
        """True/False, or None when the customer is not eligible at that day."""
        bad = self.first_bad.get(customer_id)
        if bad is not None and bad <= day:
            return None
        if bad is not None and bad <= day + horizon:
            return True
        if inactivity_days is not None:
            orders = self.order_days.get(customer_id, [])
            before = bisect.bisect_right(orders, day)
            if before == 0 or day - orders[before - 1] > inactivity_days:
                return None  # not an ordering customer at the snapshot
            window = min(inactivity_days, horizon)
            return before == len(orders) or orders[before] > day + window
        return False


def load_outcomes(session: Session, *, target: str) -> Outcomes:
    dialect = session.get_bind().dialect.name
    first_bad: dict[str, int] = {}

    def note(cid: str, day: int) -> None:
        if cid not in first_bad or day < first_bad[cid]:
            first_bad[cid] = day

    ev_day = _day(dialect, "occurred_at")
    types = ("'customer.defaulted', 'invoice.written_off'" if target == "default"
             else "'customer.churned'")
    for cid, day in session.execute(text(
            f"SELECT customer_id, MIN({ev_day}) FROM event WHERE type IN ({types}) "
            "GROUP BY customer_id")):
        note(cid, int(day))
    order_days: dict[str, list[int]] = defaultdict(list)
    if target == "default":
        # 90+ days past due: an invoice not fully paid 90 days after its due date. Two
        # plain scans joined in memory (a self-join on event is slow on SQLite).
        due_day = _day(dialect, "due_on", is_date=True)
        invoices: dict[tuple[str, str], list[float]] = {}
        for cid, ref, due_d, amount in session.execute(text(
                f"SELECT customer_id, ref_id, {due_day}, amount FROM event "
                "WHERE type = 'invoice.issued' AND due_on IS NOT NULL")):
            invoices[(cid, ref)] = [float(due_d), float(amount)]
        for cid, ref, day, amount in session.execute(text(
                f"SELECT customer_id, ref_id, {ev_day}, amount FROM event "
                "WHERE type = 'payment.received'")):
            invoice = invoices.get((cid, ref))
            if invoice is not None and day <= invoice[0] + 90:
                invoice[1] -= float(amount or 0)
        for (cid, _ref), (due_d, unpaid) in invoices.items():
            if unpaid > 0.005:
                note(cid, int(due_d) + 91)
    else:
        for cid, day in session.execute(text(
                f"SELECT customer_id, {ev_day} FROM event WHERE type = 'order.placed' "
                "ORDER BY customer_id, occurred_at")):
            order_days[cid].append(int(day))
    last = session.execute(text(f"SELECT MAX({ev_day}) FROM event")).scalar()
    return Outcomes(first_bad=first_bad, order_days=dict(order_days),
                    last_day=int(last) if last is not None else 0)


def day_number(moment: dt.datetime | dt.date) -> int:
    day = moment.astimezone(dt.UTC).date() if isinstance(moment, dt.datetime) else moment
    return (day - EPOCH).days
