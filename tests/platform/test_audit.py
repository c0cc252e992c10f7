"""The hash-chained audit log: appends link up, and any edit in the database is caught."""

from __future__ import annotations

import httpx
from sqlalchemy import delete, update

from shared import audit
from shared.db import Database
from shared.models import AuditEntry
from tests.stack import Stack


def _append(db: Database, n: int) -> list[int]:
    ids = []
    for i in range(n):
        with db.transaction() as session:
            entry = audit.record(session, actor="analyst@x", action="tier.override",
                                 subject_type="customer", subject_id=f"c{i}",
                                 details={"tier": "high", "amount": "1250.00", "n": i})
            ids.append(entry.id)
    return ids


def test_untouched_chain_verifies(db: Database) -> None:
    _append(db, 5)
    with db.sessions() as session:
        result = audit.verify(session)
    assert result.ok and result.checked == 5 and result.first_broken_id is None


def test_editing_a_row_breaks_the_chain_at_that_row(db: Database) -> None:
    ids = _append(db, 5)
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[2])
                        .values(details={"tier": "low", "amount": "1250.00", "n": 2}))
    with db.sessions() as session:
        result = audit.verify(session)
    assert not result.ok
    assert result.first_broken_id == ids[2]
    assert result.checked == 2


def test_deleting_a_row_breaks_the_link_of_the_next(db: Database) -> None:
    ids = _append(db, 4)
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    with db.sessions() as session:
        result = audit.verify(session)
    assert (result.ok, result.first_broken_id) == (False, ids[2])
    assert result.reason == "previous-hash link broken"


def test_verify_over_the_api_names_the_tampered_row(live: Stack, db: Database) -> None:
    ids = _append(db, 3)
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == ids[0])
                        .values(actor="someone-else"))
    body = httpx.get(f"{live.gateway}/v1/audit/verify", headers=live.headers()).json()
    assert body == {"ok": False, "checked": 0, "first_broken_id": ids[0],
                    "reason": "content does not match its hash"}
    listed = httpx.get(f"{live.gateway}/v1/audit", params={"subject_id": "c1"},
                       headers=live.headers()).json()
    assert [e["subject_id"] for e in listed["items"]] == ["c1"]
