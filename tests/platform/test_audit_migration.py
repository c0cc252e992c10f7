"""Migration 0007 carries the hash chain's history into the Merkle tree, on both engines."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import Database, normalize_url
from shared.migrate import alembic_config, upgrade
from shared.transparency import log as tlog
from shared.transparency.settings import get_audit_settings, get_signer
from tests.conftest import POSTGRES_ADMIN_URL


@pytest.fixture
def empty_url(engine_name: str, tmp_path: Path) -> Iterator[str]:
    """A database of the engine under test with no schema yet."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"rw_test_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalize_url(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _old_chain_rows(n: int) -> list[dict[str, object]]:
    """Rows as the retired hash chain wrote them."""
    rows, prev = [], "0" * 64
    for i in range(n):
        occurred_at = dt.datetime(2026, 11, 1, 9, i, tzinfo=dt.UTC)
        details = {"decision": "approve", "n": i}
        content = json.dumps({
            "occurred_at": occurred_at.isoformat(timespec="microseconds"), "actor": "old",
            "action": "credit.decided", "subject_type": "customer", "subject_id": f"c{i}",
            "details": details, "prev_hash": prev}, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(content.encode()).hexdigest()
        rows.append({"occurred_at": occurred_at, "actor": "old", "action": "credit.decided",
                     "subject_type": "customer", "subject_id": f"c{i}", "details": details,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def test_hash_chain_history_survives_the_migration_and_enters_the_tree(
        empty_url: str) -> None:
    upgrade(empty_url, "0003")
    engine = sa.create_engine(normalize_url(empty_url))
    table = sa.Table("audit_entry", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), _old_chain_rows(5))
    engine.dispose()

    upgrade(empty_url)
    db = Database(empty_url)
    try:
        batch = tlog.Sequencer(db, get_signer(), origin=get_audit_settings().origin).run_once()
        assert (batch.integrated, batch.tree_size) == (5, 5)
        with db.transaction() as session:
            result = tlog.verify(session, get_signer().verifier,
                                 origin=get_audit_settings().origin)
            kept = session.execute(sa.text("SELECT subject_id, leaf_index FROM audit_entry "
                                           "ORDER BY id")).all()
        assert result.ok and result.entries == 5
        assert [tuple(r) for r in kept] == [(f"c{i}", i) for i in range(5)]
    finally:
        db.dispose()

    # And back: the downgrade rebuilds a chain the old code would accept.
    from alembic import command

    command.downgrade(alembic_config(empty_url), "0003")
    engine = sa.create_engine(normalize_url(empty_url))
    with engine.connect() as conn:
        chain = conn.execute(sa.text("SELECT prev_hash, hash FROM audit_entry ORDER BY id")).all()
    engine.dispose()
    assert [row.hash for row in chain] == [r["hash"] for r in _old_chain_rows(5)]
