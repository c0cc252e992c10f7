"""The audit log's tables: entries (appended by anyone, sequenced by one), the Merkle tree's
tiles and the signed checkpoints (see shared/transparency)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, JsonDoc, UtcDateTime
from shared.models.platform import BigId


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        # The sequencer's queue: only entries not yet in the tree, whatever order their
        # transactions committed in; the index empties as fast as entries are sequenced.
        Index("ix_audit_entry_unsequenced", "id",
              postgresql_where=text("leaf_index IS NULL"),
              sqlite_where=text("leaf_index IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(255), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    # The entry sealed at append (shared/audit.py): what its leaf commits to.
    content: Mapped[str] = mapped_column(Text)
    # Set once by the sequencer; unique, so no entry can take two places in the tree.
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class AuditTile(Base):
    """Up to 256 hashes of one tree level (see shared/transparency/tiles.py)."""

    __tablename__ = "audit_tile"

    tile_level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed tree head as published: the C2SP signed note, and its fields for queries."""

    __tablename__ = "audit_checkpoint"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
