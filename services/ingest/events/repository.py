"""SQL for events: alias resolution, minimal customers, de-duplicating inserts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from services.ingest.events.cloudevents import NewEvent
from shared import queue
from shared.db import dialect_insert, is_postgres, statement
from shared.models import Customer, CustomerAlias, Event, IndustryOutlook

# Minimal customers carry the oldest possible version, so the first real profile always
# applies whatever its own `updated_at`.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def resolve_aliases(session: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(source, external id) -> customer_id for the pairs that have an alias."""
    found: dict[tuple[str, str], str] = {}
    ordered = sorted(pairs)
    for chunk in _chunks(ordered):
        rows = session.execute(
            select(CustomerAlias.source, CustomerAlias.external_id, CustomerAlias.customer_id)
            .where(tuple_(CustomerAlias.source, CustomerAlias.external_id).in_(chunk))
        ).all()
        found.update({(s, e): c for s, e, c in rows})
    return found


_PG_ENSURE_CUSTOMERS = text("""
    INSERT INTO customer (customer_id, registration_ids, attributes, incomplete, updated_at,
                          created_at)
    SELECT id, '{}'::jsonb, '{}'::jsonb, true, :epoch, :now FROM unnest(CAST(:ids AS text[])) AS id
    ON CONFLICT (customer_id) DO NOTHING
""")


def ensure_customers(session: Session, customer_ids: Iterable[str], *, now: dt.datetime) -> None:
    """Create a minimal, incomplete customer for every id not known yet."""
    rows = [
        {"customer_id": cid, "registration_ids": {}, "attributes": {}, "incomplete": True,
         "updated_at": EPOCH, "created_at": now}
        for cid in sorted(set(customer_ids))
    ]
    if rows and is_postgres(session):
        session.execute(_PG_ENSURE_CUSTOMERS, {"ids": [r["customer_id"] for r in rows],
                                               "epoch": EPOCH, "now": now})
    elif rows:
        stmt = dialect_insert(session)(Customer).on_conflict_do_nothing(
            index_elements=[Customer.customer_id])
        session.execute(stmt, rows)


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date | Decimal):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def pg_rows_document(rows: list[dict[str, Any]]) -> str:
    """A batch as one JSON document, unpacked by the server with jsonb_to_recordset: the
    statement stays the same size whatever the batch (a 14,000-placeholder VALUES list
    takes longer to build and parse than to execute)."""
    return json.dumps(rows, separators=(",", ":"), default=_json_default)


def insert_events(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert events, skipping any (source, event_id) already stored; the new ones' ids."""
    if not rows:
        return {}
    stmt = (
        dialect_insert(session)(Event)
        .on_conflict_do_nothing(index_elements=[Event.source, Event.event_id])
        .returning(Event.source, Event.event_id, Event.id)
    )
    result = session.execute(stmt, rows)
    return {(source, event_id): pk for source, event_id, pk in result.all()}


def customers_in_industries(session: Session, industries: list[str]) -> list[str]:
    return list(session.scalars(
        select(Customer.customer_id).where(Customer.industry.in_(industries))
        .order_by(Customer.customer_id)))


def insert_outlooks(session: Session, rows: list[dict[str, Any]]) -> set[tuple[str, str, dt.date]]:
    """Insert industry outlooks, skipping (source, industry, as_of) already stored."""
    if not rows:
        return set()
    stmt = (
        dialect_insert(session)(IndustryOutlook)
        .on_conflict_do_nothing(index_elements=[IndustryOutlook.source, IndustryOutlook.industry,
                                                IndustryOutlook.as_of])
        .returning(IndustryOutlook.source, IndustryOutlook.industry, IndustryOutlook.as_of)
    )
    return {(s, i, a) for s, i, a in session.execute(stmt, rows).all()}


def store_events(
    session: Session, events: Sequence[NewEvent], *, now: dt.datetime, rescore_topic: str,
    rescore_payload: dict[str, Any], alerts_topic: str | None,
) -> dict[tuple[str, str], tuple[str, int | None]]:
    """Store events that name a customer (``subject``, resolved through aliases; minimal
    customers created for unknown ids), skipping any (source, id) already stored; enqueue a
    coalesced rescore per customer with a new event and, with ``alerts_topic``, one alerts
    item per new event. (source, event_id) -> (customer_id, new event id or None)."""
    if not events:
        return {}
    if is_postgres(session):
        return _store_events_pg(session, events, now=now, rescore_topic=rescore_topic,
                                rescore_payload=rescore_payload, alerts_topic=alerts_topic)
    aliases = resolve_aliases(session, {(e.source, e.subject) for e in events if e.subject})
    customer_of = {(e.source, e.event_id): aliases.get((e.source, e.subject), e.subject)
                   for e in events if e.subject is not None}
    ordered = sorted(events, key=lambda e: (e.source, e.event_id))
    ensure_customers(session, customer_of.values(), now=now)
    inserted = insert_events(session, [
        {"source": e.source, "event_id": e.event_id, "type": e.type,
         "customer_id": customer_of[(e.source, e.event_id)], "occurred_at": e.occurred_at,
         "received_at": now, "data": e.data, "attributes": e.attributes, **e.columns}
        for e in ordered])
    new = [e for e in ordered if (e.source, e.event_id) in inserted]
    queue.enqueue_batch(session, topic=rescore_topic, coalesce=True, now=now, items=[
        (customer_of[(e.source, e.event_id)], rescore_payload) for e in new])
    if alerts_topic is not None:
        queue.enqueue_batch(session, topic=alerts_topic, coalesce=False, now=now, items=[
            (customer_of[(e.source, e.event_id)],
             {"event_pk": inserted[(e.source, e.event_id)], "type": e.type}) for e in new])
    return {key: (customer, inserted.get(key)) for key, customer in customer_of.items()}


# PostgreSQL, the whole write of a batch in one statement and one round trip: resolve
# aliases, create minimal customers, insert the new events, and enqueue their work with
# the queue's own INSERTs (shared.queue owns every statement on work_item). Foreign keys
# are checked at the end of the statement, when the sibling INSERT's customers exist.
# The event table's trigger skips a (source, id) already stored (migration 0013: the table
# is partitioned, the keys live in event_key), so RETURNING names only the new events.
# Replays are not filtered out before the insert: a NOT EXISTS on event_key became an anti
# join whose plan follows the table's statistics, and with them stale (a young or fast-
# growing table) it sorted every stored key for each single event, 10 ms a statement at
# 12,000 keys (pg_stat_statements, bench.alerts); the trigger's claim always probes the
# primary key.
_PG_STORE = """
WITH input AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t(
        source text, event_id text, type text, subject text, occurred_at timestamptz,
        data jsonb, attributes jsonb, amount numeric, currency text, ref_id text, due_on date,
        value float8, counterparty text)
), resolved AS (
    SELECT i.*, COALESCE(a.customer_id, i.subject) AS resolved_customer_id
    FROM input i
    LEFT JOIN customer_alias a ON a.source = i.source AND a.external_id = i.subject
), new_customers AS (
    INSERT INTO customer (customer_id, registration_ids, attributes, incomplete, updated_at,
                          created_at)
    SELECT DISTINCT resolved_customer_id, CAST('{}' AS jsonb), CAST('{}' AS jsonb), true,
           CAST(:epoch AS timestamptz), CAST(:now AS timestamptz)
    FROM resolved ORDER BY 1
    ON CONFLICT (customer_id) DO NOTHING
), inserted AS (
    INSERT INTO event (source, event_id, type, customer_id, occurred_at, received_at, data,
                       attributes, amount, currency, ref_id, due_on, value, counterparty)
    SELECT source, event_id, type, resolved_customer_id, occurred_at,
           CAST(:now AS timestamptz), data, attributes, amount, currency, ref_id, due_on,
           value, counterparty
    FROM resolved r
    ORDER BY source, event_id
    RETURNING id, source, event_id, customer_id, type
)%s
SELECT r.source, r.event_id, r.resolved_customer_id, i.id
FROM resolved r LEFT JOIN inserted i ON i.source = r.source AND i.event_id = r.event_id
"""


def _store_events_pg(
    session: Session, events: Sequence[NewEvent], *, now: dt.datetime, rescore_topic: str,
    rescore_payload: dict[str, Any], alerts_topic: str | None,
) -> dict[tuple[str, str], tuple[str, int | None]]:
    sql, params = pg_store_statement(events, now=now, rescore_topic=rescore_topic,
                                     rescore_payload=rescore_payload, alerts_topic=alerts_topic)
    result = session.execute(statement(sql), params)
    return {(source, event_id): (customer_id, pk)
            for source, event_id, customer_id, pk in result.all()}


def pg_store_statement(
    events: Sequence[NewEvent], *, now: dt.datetime, rescore_topic: str,
    rescore_payload: dict[str, Any], alerts_topic: str | None,
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL statement that stores ``events`` and enqueues their work, with its
    parameters (its plan is tested: tests/ingest/test_event_partitions.py)."""
    # Plain JSON values (ISO strings for times, dates and decimals): the document is built
    # by the C encoder without a per-value fallback.
    rows = [
        {"source": e.source, "event_id": e.event_id, "type": e.type, "subject": e.subject,
         "occurred_at": e.occurred_at.isoformat(), "data": e.data, "attributes": e.attributes,
         **{k: v if v is None or isinstance(v, str | float) else str(v)
            for k, v in e.columns.items()}}
        for e in events
    ]
    work = [queue.pg_enqueue_coalesced(topic=rescore_topic, source="inserted",
                                       key="customer_id", payload=rescore_payload, now=now)]
    if alerts_topic is not None:
        work.append(queue.pg_enqueue_each(
            topic=alerts_topic, source="inserted", key="customer_id",
            payload="jsonb_build_object('event_pk', id, 'type', type)", now=now))
    ctes = "".join(f", work_{n} AS ({fragment.sql})" for n, fragment in enumerate(work))
    params: dict[str, Any] = {"rows": pg_rows_document(rows), "epoch": EPOCH, "now": now}
    for fragment in work:
        params.update(fragment.params)
    return _PG_STORE % ctes, params
