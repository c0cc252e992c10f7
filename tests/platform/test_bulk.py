"""shared/bulk.py on both engines: one statement per batch, and only the columns given change."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Table, select

from shared.bulk import bulk_update, bulk_write
from shared.db import Database
from shared.models import Customer, utcnow

CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]


def _customer(customer_id: str, **values: object) -> dict[str, object]:
    now = utcnow()
    return {"customer_id": customer_id, "name": f"Name {customer_id}", "industry": "retail",
            "credit_limit": Decimal("1000.00"), "registration_ids": {}, "attributes": {},
            "incomplete": False, "is_drill": False, "created_at": now, "updated_at": now,
            **values}


def _rows(db: Database) -> dict[str, tuple[object, ...]]:
    with db.read() as session:
        return {row.customer_id: (row.name, row.industry, row.credit_limit)
                for row in session.execute(select(Customer.customer_id, Customer.name,
                                                  Customer.industry, Customer.credit_limit))}


def test_bulk_write_inserts_and_upserts(db: Database) -> None:
    with db.transaction() as session:
        bulk_write(session, CUSTOMERS, [_customer("a"), _customer("b")],
                   upsert_key="customer_id")
    with db.transaction() as session:
        bulk_write(session, CUSTOMERS, [_customer("b", name="Renamed"), _customer("c")],
                   upsert_key="customer_id")
    rows = _rows(db)
    assert sorted(rows) == ["a", "b", "c"]
    assert rows["b"][0] == "Renamed"


def test_bulk_update_changes_only_the_columns_given_and_skips_unknown_keys(
        db: Database) -> None:
    with db.transaction() as session:
        bulk_write(session, CUSTOMERS, [_customer("a"), _customer("b")])
    with db.transaction() as session:
        bulk_update(session, CUSTOMERS, [
            {"customer_id": "a", "name": "New a", "credit_limit": Decimal("5.50")},
            {"customer_id": "b", "name": "New b", "credit_limit": None},
            {"customer_id": "nobody", "name": "Ghost", "credit_limit": Decimal("1.00")},
        ], key="customer_id")
    rows = _rows(db)
    assert sorted(rows) == ["a", "b"]  # an unknown key inserts nothing
    assert rows["a"] == ("New a", "retail", Decimal("5.50"))
    assert rows["b"] == ("New b", "retail", None)  # industry was not given: unchanged


def test_bulk_update_on_several_key_columns_needs_all_of_them_to_match(db: Database) -> None:
    with db.transaction() as session:
        bulk_write(session, CUSTOMERS, [_customer("a"), _customer("b", industry="energy")])
    with db.transaction() as session:
        bulk_update(session, CUSTOMERS, [
            {"customer_id": "a", "industry": "retail", "name": "New a"},
            {"customer_id": "b", "industry": "retail", "name": "Not b"},  # b is energy
        ], key=("customer_id", "industry"))
    rows = _rows(db)
    assert rows["a"][0] == "New a"
    assert rows["b"][:2] == ("Name b", "energy")
