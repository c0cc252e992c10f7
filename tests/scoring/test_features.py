"""Point-in-time features: exact values on a hand-built history, no leakage, and the set-based
computation agreeing with the one-customer computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from services.scoring.features.definitions import FEATURE_NAMES
from services.scoring.features.service import features_all, features_for, features_page
from services.scoring.simulator.loader import load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared.db import Database
from tests.scoring.factories import T0, add_customer, add_events, add_outlook, days, event

AS_OF = T0 + days(100)


def _history(db: Database) -> None:
    add_customer(db, "c-1", industry="retail", credit_limit=10000)
    add_outlook(db, "retail", (T0 + days(50)).date(), -0.4)
    add_events(
        db,
        # inv-1: due day 30, paid in full on day 40 -> 10 days late.
        event("c-1", "invoice.issued", T0, invoice_id="inv-1", amount="1000.00",
              currency="EUR", due_date=(T0 + days(30)).date().isoformat()),
        event("c-1", "payment.received", T0 + days(40), invoice_id="inv-1", amount="1000.00",
              currency="EUR"),
        # inv-2: due day 60, 400 of 1500 paid -> 1100 open and 40 days past due at day 100.
        event("c-1", "invoice.issued", T0 + days(30), invoice_id="inv-2", amount="1500.00",
              currency="EUR", due_date=(T0 + days(60)).date().isoformat()),
        event("c-1", "payment.received", T0 + days(55), invoice_id="inv-2", amount="400.00",
              currency="EUR"),
        # inv-3: not yet due.
        event("c-1", "invoice.issued", T0 + days(90), invoice_id="inv-3", amount="500.00",
              currency="EUR", due_date=(T0 + days(120)).date().isoformat()),
        event("c-1", "order.placed", T0 + days(90), order_id="o-1", amount="500.00",
              currency="EUR"),
        event("c-1", "complaint.opened", T0 + days(20), complaint_id="k-1"),
        event("c-1", "complaint.opened", T0 + days(80), complaint_id="k-2"),
        event("c-1", "complaint.resolved", T0 + days(85), complaint_id="k-2"),
        event("c-1", "credit_rating.updated", T0 + days(10), agency="a", rating="A",
              score=70),
        event("c-1", "credit_rating.updated", T0 + days(70), agency="a", rating="BB",
              score=55),
        event("c-1", "news.sentiment", T0 + days(95), score=-0.5),
        event("c-1", "news.sentiment", T0 + days(96), score=0.1),
    )


def test_hand_computed_values(db: Database) -> None:
    _history(db)
    with db.transaction() as session:
        row = features_for(session, customer_ids=["c-1"], as_of=AS_OF).row(0)
    assert row["days_past_due"] == 40
    assert row["outstanding_balance"] == 1600
    assert row["overdue_amount"] == 1100
    assert row["utilization"] == pytest.approx(0.16)
    assert row["max_days_late_365"] == 10
    assert row["late_payments_365"] == 1
    # One payment 10 days late and one on time (day 55 before due day 60).
    assert row["mean_days_late_365"] == pytest.approx(5)
    assert row["invoice_count_90"] == 2  # issued on days 30 and 90 (window is (10, 100])
    assert row["order_count_30"] == 1
    assert row["days_since_last_order"] == 10
    assert row["complaints_open"] == 1 and row["complaints_90"] == 2
    assert row["rating"] == 55 and row["rating_change"] == -15
    assert row["sentiment_90"] == pytest.approx(-0.2)
    assert row["industry_outlook"] == pytest.approx(-0.4)
    assert row["relationship_days"] == 100
    assert row["partner_feedback_365"] is None  # unknown stays unknown


def test_events_after_the_as_of_date_never_change_features(db: Database) -> None:
    _history(db)
    with db.transaction() as session:
        before = features_for(session, customer_ids=["c-1"], as_of=AS_OF).row(0)
    add_outlook(db, "retail", (AS_OF + days(1)).date(), 0.9)
    later = AS_OF + dt.timedelta(seconds=1)
    add_events(
        db,
        event("c-1", "payment.received", later, invoice_id="inv-2", amount="1100.00",
              currency="EUR"),
        event("c-1", "complaint.resolved", later, complaint_id="k-1"),
        event("c-1", "credit_rating.updated", later, agency="a", rating="AAA", score=95),
        event("c-1", "order.placed", later, order_id="o-2", amount="9000.00", currency="EUR"),
        event("c-1", "customer.defaulted", later + days(3)),
    )
    with db.transaction() as session:
        after = features_for(session, customer_ids=["c-1"], as_of=AS_OF).row(0)
        moved = features_for(session, customer_ids=["c-1"], as_of=later + days(5)).row(0)
    assert after == before
    assert moved["days_past_due"] == 0 and moved["rating"] == 95  # and they count later


def test_set_based_equals_one_by_one(db: Database) -> None:
    load_into_database(db, simulate(SimConfig(customers=40, months=14, seed=5,
                                              end=dt.date(2026, 10, 1))))
    as_of = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
    with db.transaction() as session:
        everyone = features_all(session, as_of=as_of)
        first_page = features_page(session, as_of=as_of, after=None, limit=25)
        second_page = features_page(session, as_of=as_of, after=first_page.customer_ids[-1],
                                    limit=25)
        some = everyone.customer_ids[::7]
        singles = [features_for(session, customer_ids=[cid], as_of=as_of) for cid in some]
    assert len(everyone) == 40
    assert first_page.customer_ids + second_page.customer_ids == everyone.customer_ids
    for cid, single in zip(some, singles, strict=True):
        i = everyone.customer_ids.index(cid)
        np.testing.assert_allclose(single.matrix[0], everyone.matrix[i], equal_nan=True)
    assert everyone.matrix.shape == (40, len(FEATURE_NAMES))
    # Real histories fill most features.
    assert np.isnan(everyone.matrix).mean() < 0.2
