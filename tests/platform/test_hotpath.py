"""HotStatement: one statement on a pooled driver connection in autocommit, without the
Session. The values must be exactly what the ORM reads and writes, on both engines; an
INSERT … RETURNING commits on its own; the connection goes back to the pool as it came (a
later transaction still rolls back); a lost server costs one statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from shared.db import Database
from shared.hotpath import HotStatement
from shared.models import Customer, utcnow
from shared.models.scoring import CustomerRisk

RISK = HotStatement(sa.select(CustomerRisk).where(
    CustomerRisk.customer_id == sa.bindparam("customer_id")))
RISK_COLUMNS = [column.key for column in CustomerRisk.__table__.columns]


def _store_risk(db: Database, customer_id: str, **values: object) -> None:
    with db.transaction() as session:
        session.add(Customer(customer_id=customer_id, name="Hot read GmbH"))
        session.add(CustomerRisk(
            customer_id=customer_id, pd_default=0.0425, points=612, tier="medium",
            model_id=None, model_version="scorecard-1",
            reasons=[{"feature": "overdue_ratio", "value": 0.31, "text": "逾期 31 %"}],
            pd_churn=None, churn_model_version=None, churn_reasons=None,
            feature_set="core", feature_set_version=3,
            features={"overdue_ratio": 0.31, "n_complaints_90d": 2},
            outstanding_balance=Decimal("1234.56"), overdue_amount=Decimal("0.10"),
            credit_limit=None, credit_currency="EUR", in_default=False,
            tier_config_version=2, trigger="event",
            scored_at=dt.datetime(2026, 11, 30, 23, 59, 58, 123456, tzinfo=dt.UTC),
            **values))


def test_values_read_back_exactly_as_the_orm_reads_them(db: Database) -> None:
    _store_risk(db, "hot-1")
    row = RISK.first(db, customer_id="hot-1")
    assert row is not None
    with db.read() as session:
        stored = session.get(CustomerRisk, "hot-1")
        assert stored is not None
        expected = tuple(getattr(stored, key) for key in RISK_COLUMNS)
    assert row == expected
    values = dict(zip(RISK_COLUMNS, row, strict=True))
    assert values["scored_at"].tzinfo is not None  # UTC-aware on SQLite too
    assert values["outstanding_balance"] == Decimal("1234.56")
    assert values["reasons"][0]["text"] == "逾期 31 %"
    assert values["in_default"] is False
    assert values["credit_limit"] is None


def test_no_row_is_none(db: Database) -> None:
    assert RISK.first(db, customer_id="nobody") is None


def test_bound_values_go_through_the_column_types(db: Database) -> None:
    """``scored_at`` is a UtcDateTime: the bound time goes through its processor (UTC) just
    as in an ORM query, and a naive time is refused by it."""
    _store_risk(db, "hot-2")
    later = HotStatement(sa.select(CustomerRisk.customer_id).where(
        CustomerRisk.scored_at < sa.bindparam("before", type_=CustomerRisk.scored_at.type)))
    assert later.first(db, before=utcnow()) == ("hot-2",)
    # Compared as UTC instants, not as local wall times (SQLite compares text).
    west = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    assert later.first(db, before=west) == ("hot-2",)  # 00:00 UTC on 1 Dec: after it
    east = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert later.first(db, before=east) is None  # 23:00 UTC on 30 Nov: before it
    with pytest.raises(ValueError):  # not a silent misread of a time without its zone
        later.first(db, before=dt.datetime(2027, 1, 1))


def test_the_connection_goes_back_to_the_pool_as_it_came(database_url: str) -> None:
    """After a hot read, the pool's connection (here the only one) still runs
    transactions: a rolled-back insert leaves nothing."""
    fresh = Database(database_url)
    try:
        assert RISK.first(fresh, customer_id="nobody") is None
        assert fresh.engine.pool.checkedin() == 1
        with pytest.raises(RuntimeError), fresh.transaction() as session:
            session.add(Customer(customer_id="hot-rolled-back", name="never kept"))
            session.flush()
            raise RuntimeError("roll back")
        with fresh.read() as session:
            assert session.get(Customer, "hot-rolled-back") is None
    finally:
        fresh.dispose()


def test_a_lost_server_connection_costs_one_read(database_url: str, engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("an embedded SQLite file has no server to lose")
    fresh = Database(database_url)
    try:
        with fresh.engine.connect() as one, fresh.engine.connect() as two:  # a pool of two
            pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in (one, two)]
        admin = Database(database_url)
        with admin.engine.connect() as conn:  # what a server restart does to them
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) pid"),
                         {"pids": pids})
        admin.dispose()
        with pytest.raises(DBAPIError):
            RISK.first(fresh, customer_id="nobody")
        # The pool was invalidated, not just the one connection: the other dead one is
        # replaced too, and the next read works.
        assert RISK.first(fresh, customer_id="nobody") is None
    finally:
        fresh.dispose()


def test_an_insert_returning_commits_on_its_own_with_its_values_processed(
        db: Database) -> None:
    values = {"customer_id": sa.bindparam("customer_id"), "name": sa.bindparam("name"),
              "attributes": sa.bindparam("attributes"), "registration_ids": {},
              "incomplete": False, "updated_at": sa.bindparam("at"),
              "created_at": sa.bindparam("at")}
    returning = (Customer.customer_id, Customer.attributes, Customer.updated_at)
    # Customer.is_drill has a Python-side default, which only the ORM's execution fills in:
    # left out, it would be sent as NULL, so the statement is refused at once.
    forgetful = HotStatement(sa.insert(Customer).values(values).returning(*returning))
    with pytest.raises(TypeError, match="is_drill"):
        forgetful.first(db, customer_id="hot-new", name="x", attributes={}, at=utcnow())
    append = HotStatement(sa.insert(Customer).values(
        {**values, "is_drill": False}).returning(*returning))
    at = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    row = append.first(db, customer_id="hot-new", name="新客户", attributes={"crm": "zoho"},
                       at=at)
    assert row == ("hot-new", {"crm": "zoho"}, at)  # the same instant, UTC-aware
    with db.read() as session:  # committed: another connection sees it
        stored = session.get(Customer, "hot-new")
        assert stored is not None and stored.name == "新客户"
        assert stored.updated_at == at and stored.attributes == {"crm": "zoho"}
    with pytest.raises(DBAPIError):  # the primary key taken: an error, nothing stored twice
        append.first(db, customer_id="hot-new", name="again", attributes={}, at=at)
    assert append.first(db, customer_id="hot-next", name="next", attributes={}, at=at)


def test_only_single_statements_that_return_a_row_are_taken() -> None:
    with pytest.raises(TypeError):  # a write that returns nothing
        HotStatement(sa.insert(Customer).values(customer_id="x"))
    with pytest.raises(TypeError):
        HotStatement(sa.update(Customer).values(name="x"))  # type: ignore[arg-type]
    in_list = HotStatement(sa.select(Customer.customer_id).where(
        Customer.customer_id.in_(sa.bindparam("ids", expanding=True))))
    memory = Database("sqlite://")
    with pytest.raises(TypeError):
        in_list.first(memory, ids=["a"])
    memory.dispose()
