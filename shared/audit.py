"""The audit log's write side: every decision appends one entry in the caller's transaction
(or, for a decision that writes nothing else, as a unit of its own: :func:`append`), without a
lock and without reading other rows. A sequencer integrates committed entries into
a verifiable Merkle tree later (shared/transparency/log.py), so appends never wait on each
other: an entry is durable exactly when the business change it records is.

Each entry is sealed when appended: its ``content`` column holds the canonical JSON the tree
will commit to, so what the leaf hashes is exactly what the application wrote, whatever the
database does to the JSON and time columns (which stay for queries; `verify` checks they
still say what the content says)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from shared.bulk import bulk_write
from shared.db import Database
from shared.group_commit import GroupCommit
from shared.hotpath import HotStatement
from shared.models import AuditEntry, utcnow


def entry_content(
    *, occurred_at: dt.datetime, actor: str, action: str, subject_type: str, subject_id: str,
    details: dict[str, Any],
) -> str:
    """The entry as JSON: sorted keys, no spaces, the time in UTC with microseconds."""
    entry = {
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
    }
    try:
        # orjson: the standard encoder cost 35 µs an entry, orjson 3 µs, and the verifier
        # serialises every entry of the log.
        return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits, which orjson does not write
        return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def leaf_data(entry_id: int, content: str) -> bytes:
    """The bytes leaf hashes commit to: the content with the entry's id as first member,
    ``{"id":7,"action":…}``, UTF-8, so no entry can stand in for another."""
    return b'{"id":%d,' % entry_id + content.encode()[1:]


def content_of(row: Any) -> str:
    """:func:`entry_content` recomputed from a stored row's columns."""
    return entry_content(occurred_at=row.occurred_at, actor=row.actor, action=row.action,
                         subject_type=row.subject_type, subject_id=row.subject_id,
                         details=row.details)


@dataclass(frozen=True)
class Appended:
    id: int


@dataclass(frozen=True)
class Fact:
    """One entry to append (see :func:`record_many`)."""

    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any] = field(default_factory=dict)


# Times and dataclasses go to ``str`` as they did with the standard encoder; numpy's
# numbers are written as numbers.
_PLAIN_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                  | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """The details as plain JSON values, whatever was passed in (anything else as its
    ``str``)."""
    try:
        plain: dict[str, Any] = orjson.loads(orjson.dumps(details, default=str,
                                                          option=_PLAIN_OPTIONS))
    except TypeError:  # an integer beyond 64 bits
        plain = json.loads(json.dumps(details, default=str))
    return plain


def _row(fact: Fact, occurred_at: dt.datetime) -> dict[str, Any]:
    details = _plain(fact.details)
    content = entry_content(occurred_at=occurred_at, actor=fact.actor, action=fact.action,
                            subject_type=fact.subject_type, subject_id=fact.subject_id,
                            details=details)
    return {"occurred_at": occurred_at, "actor": fact.actor, "action": fact.action,
            "subject_type": fact.subject_type, "subject_id": fact.subject_id,
            "details": details, "content": content}


AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]
# Built once, on the table rather than through the ORM's bulk-insert path: building and
# compiling the statement per append was over half of an append's CPU on the
# credit-decision path (py-spy, bench.requests --profile).
APPEND = insert(AUDIT_TABLE).returning(AUDIT_TABLE.c.id)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
) -> Appended:
    """Append one entry in the caller's transaction (sequenced into the tree within a second
    or so of its commit)."""
    row = _row(Fact(actor, action, subject_type, subject_id, details or {}), utcnow())
    entry_id = session.execute(APPEND, row).scalar_one()
    return Appended(id=entry_id)


# The same append as one statement on its own (shared/hotpath.py): for a decision whose only
# write is its audit entry, which then needs no session at all.
_COLUMNS = ("occurred_at", "actor", "action", "subject_type", "subject_id", "details",
            "content")
_APPEND_ALONE = HotStatement(insert(AUDIT_TABLE).values(
    {column: bindparam(column) for column in _COLUMNS}).returning(AUDIT_TABLE.c.id))


def append(db: Database, fact: Fact) -> Appended:
    """:func:`record` as a unit of work of its own: the entry is committed when this returns.
    For a decision that writes nothing else (an entry must never be kept for a change
    that was not, nor a change for which no entry was kept)."""
    appended = _APPEND_ALONE.first(db, **_row(fact, utcnow()))
    if appended is None:  # RETURNING gives the row inserted, or the insert raised
        raise RuntimeError("the audit append returned no id")
    return Appended(id=int(appended[0]))


# Several entries in one statement, the ids returned in the order of the rows given.
_APPEND_MANY = insert(AUDIT_TABLE).returning(AUDIT_TABLE.c.id, sort_by_parameter_order=True)


def append_many(db: Database, facts: Sequence[Fact]) -> list[Appended]:
    """:func:`append` for several entries that commit together, in one statement: their
    ids in the order of ``facts``. What :func:`appender` writes for the requests that
    arrived together."""
    if len(facts) == 1:
        return [append(db, facts[0])]
    now = utcnow()
    with db.transaction() as session:
        ids = session.execute(_APPEND_MANY, [_row(fact, now) for fact in facts]).scalars().all()
    # One id per row: GroupCommit refuses a write whose results do not match its items.
    return [Appended(id=int(entry_id)) for entry_id in ids]


def appender(db: Database, *, max_items: int = 500, writers: int = 1,
             on_flush: Callable[[int], None] | None = None) -> GroupCommit[Fact, Appended]:
    """Appends of entries that are units of work of their own (a credit decision's), from
    concurrent requests: those that arrive together commit together (shared/group_commit.py),
    and each request gets its own entry's id once it is committed."""
    return GroupCommit(partial(append_many, db), max_items=max_items, writers=writers,
                       on_flush=on_flush)


def record_many(session: Session, facts: Sequence[Fact]) -> None:
    """Append several entries in the caller's transaction with one statement: what a
    worker's batch decided (score and tier changes, reviews the scheduler opens). On
    PostgreSQL the batch travels as one document (an executemany of a promotion's 2,000
    entries a batch took 0.33 s)."""
    if facts:
        now = utcnow()
        bulk_write(session, AUDIT_TABLE, [_row(fact, now) for fact in facts])


def entries(
    session: Session, *, after_id: int, limit: int, subject_id: str | None = None,
    subject_type: str | None = None, action: str | None = None, actor: str | None = None,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
) -> list[AuditEntry]:
    """A page of entries in id order after ``after_id``, filtered by any of subject, actor,
    action and a time window ``[since, until)``."""
    query = select(AuditEntry).where(AuditEntry.id > after_id)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if since:
        query = query.where(AuditEntry.occurred_at >= since)
    if until:
        query = query.where(AuditEntry.occurred_at < until)
    return list(session.scalars(query.order_by(AuditEntry.id).limit(limit)))
