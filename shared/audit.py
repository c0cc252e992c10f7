"""Tamper-evident audit log: every row carries the hash of the row before it and of its own
canonical content, so editing or deleting any row breaks the chain from there on."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db import Lock, xact_lock
from shared.models import AuditEntry, utcnow

GENESIS_HASH = "0" * 64


def canonical_content(
    *, occurred_at: dt.datetime, actor: str, action: str, subject_type: str, subject_id: str,
    details: dict[str, Any], prev_hash: str,
) -> str:
    return json.dumps(
        {
            "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def entry_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
) -> Appended:
    """Append one entry in the caller's transaction."""
    # Appends must be serial or two writers would chain onto the same tail.
    xact_lock(session, Lock.AUDIT_APPEND)
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    prev_hash = prev or GENESIS_HASH
    # Round-trip through JSON so what we hash is exactly what the database gives back.
    clean_details = json.loads(json.dumps(details or {}, default=str))
    occurred_at = utcnow()
    content = canonical_content(
        occurred_at=occurred_at, actor=actor, action=action, subject_type=subject_type,
        subject_id=subject_id, details=clean_details, prev_hash=prev_hash,
    )
    digest = entry_hash(content)
    # A Core insert, not the ORM unit of work: appends sit on the credit-decision hot path
    # while holding the chain lock, so every bit of Python here is time others wait.
    entry_id = session.execute(
        insert(AuditEntry).values(
            occurred_at=occurred_at, actor=actor, action=action, subject_type=subject_type,
            subject_id=subject_id, details=clean_details, prev_hash=prev_hash, hash=digest,
        ).returning(AuditEntry.id)
    ).scalar_one()
    return Appended(id=entry_id, hash=digest)


@dataclass(frozen=True)
class Appended:
    id: int
    hash: str


def entries(session: Session, *, after_id: int, limit: int, subject_id: str | None = None,
            action: str | None = None) -> list[AuditEntry]:
    """A page of entries in chain order, after ``after_id``, optionally of one subject or
    one action."""
    query = select(AuditEntry).where(AuditEntry.id > after_id)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query.order_by(AuditEntry.id).limit(limit)))


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch_size: int = 1000) -> Verification:
    """Walk the chain in order; name the first row whose links or content do not hold."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return Verification(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != expected_prev:
                return Verification(False, checked, row.id, "previous-hash link broken")
            content = canonical_content(
                occurred_at=row.occurred_at, actor=row.actor, action=row.action,
                subject_type=row.subject_type, subject_id=row.subject_id,
                details=row.details, prev_hash=row.prev_hash,
            )
            if entry_hash(content) != row.hash:
                return Verification(False, checked, row.id, "content does not match its hash")
            expected_prev = row.hash
            checked += 1
            last_id = row.id
