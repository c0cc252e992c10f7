"""audit log as a transparency log: Merkle tiles, signed checkpoints, leaf indexes

The hash-chain columns go; every existing entry stays, sealed (its ``content`` computed as
shared/audit.py does) and unsequenced, so the sequencer's first batches integrate the old
history into the tree in id order (the old chain order).
The old chain is checked first and a break is logged, naming the row, because after this
migration only the tree vouches for the entries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

import shared.models.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
GENESIS_HASH = "0" * 64


def _plain(row: Any) -> tuple[dt.datetime, Any]:
    """occurred_at and details as Python values (SQLite hands raw SQL strings back)."""
    occurred_at = row.occurred_at
    if isinstance(occurred_at, str):
        occurred_at = dt.datetime.fromisoformat(occurred_at)
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=dt.UTC)
    details = row.details if not isinstance(row.details, str) else json.loads(row.details)
    return occurred_at, details


def _content(row: Any) -> str:
    """An entry's sealed content as shared/audit.py computes it at revision 0007."""
    occurred_at, details = _plain(row)
    entry = {"occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
             "actor": row.actor, "action": row.action, "subject_type": row.subject_type,
             "subject_id": row.subject_id, "details": details}
    try:
        return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _chain_content(row: Any, prev_hash: str) -> str:
    """The retired chain's canonical content (shared/audit.py before revision 0007)."""
    occurred_at, details = _plain(row)
    return json.dumps({
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": row.actor, "action": row.action, "subject_type": row.subject_type,
        "subject_id": row.subject_id, "details": details, "prev_hash": prev_hash,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _check_old_chain() -> None:
    bind = op.get_bind()
    expected = GENESIS_HASH
    rows = bind.execute(sa.text(
        "SELECT id, occurred_at, actor, action, subject_type, subject_id, details, prev_hash, "
        "hash FROM audit_entry ORDER BY id"))
    count = 0
    for row in rows:
        content = _chain_content(row, row.prev_hash)
        if row.prev_hash != expected or hashlib.sha256(content.encode()).hexdigest() != row.hash:
            log.warning("audit hash chain broken at entry %s before migration 0007; the entry "
                        "is carried into the Merkle tree as stored", row.id)
            return
        expected = row.hash
        count += 1
    if count:
        log.info("audit hash chain of %s entries verified; moving it into the Merkle tree", count)


def upgrade() -> None:
    _check_old_chain()
    op.create_table('audit_checkpoint',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', shared.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_checkpoint'))
    )
    op.create_table('audit_tile',
    sa.Column('tile_level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tile_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hashes', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('tile_level', 'tile_index', name=op.f('pk_audit_tile'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_entry_prev_hash'), type_='unique')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('hash')
        batch_op.add_column(sa.Column('leaf_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('content', sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entry_leaf_index'),
                                          ['leaf_index'])
        batch_op.create_index(batch_op.f('ix_audit_entry_subject_id'), ['subject_id'],
                              unique=False)
        batch_op.create_index('ix_audit_entry_unsequenced', ['id'], unique=False,
                              postgresql_where=sa.text('leaf_index IS NULL'),
                              sqlite_where=sa.text('leaf_index IS NULL'))
    bind = op.get_bind()
    for row in bind.execute(sa.text(
            "SELECT id, occurred_at, actor, action, subject_type, subject_id, details "
            "FROM audit_entry ORDER BY id")).all():
        bind.execute(sa.text("UPDATE audit_entry SET content = :c WHERE id = :id"),
                     {"c": _content(row), "id": row.id})
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.alter_column('content', existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    """Back to the hash chain, rebuilt over every entry in id order (the tree is dropped)."""
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_unsequenced',
                            postgresql_where=sa.text('leaf_index IS NULL'),
                            sqlite_where=sa.text('leaf_index IS NULL'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_subject_id'))
        batch_op.drop_constraint(batch_op.f('uq_audit_entry_leaf_index'), type_='unique')
        batch_op.drop_column('leaf_index')
        batch_op.drop_column('content')
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    prev = GENESIS_HASH
    for row in bind.execute(sa.text(
            "SELECT id, occurred_at, actor, action, subject_type, subject_id, details "
            "FROM audit_entry ORDER BY id")).all():
        digest = hashlib.sha256(_chain_content(row, prev).encode()).hexdigest()
        bind.execute(sa.text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :id"),
                     {"p": prev, "h": digest, "id": row.id})
        prev = digest
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entry_prev_hash'), ['prev_hash'])
    op.drop_table('audit_tile')
    op.drop_table('audit_checkpoint')
