"""Bulk writes of scores. On PostgreSQL a batch travels as one JSON document unpacked by
``jsonb_to_recordset`` (one statement, one round trip, however many rows); elsewhere as a
Core executemany."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.db import is_postgres

_PG = postgresql.dialect()


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def bulk_write(session: Session, table: Table, rows: list[dict[str, Any]], *,
               upsert_key: str | None = None) -> None:
    """Insert ``rows`` (all with the same keys); with ``upsert_key``, update on conflict."""
    if not rows:
        return
    columns = list(rows[0])
    if is_postgres(session):
        types = ", ".join(f'"{c}" {table.c[c].type.compile(dialect=_PG)}' for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        sql = (f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
               f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t({types})")
        if upsert_key:
            updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != upsert_key)
            sql += f' ON CONFLICT ("{upsert_key}") DO UPDATE SET {updates}'
        session.execute(text(sql), {"rows": json.dumps(rows, default=_default)})
        return
    if upsert_key:
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[upsert_key]],
            set_={c: getattr(stmt.excluded, c) for c in columns if c != upsert_key})
        session.execute(stmt, rows)
    else:
        session.execute(insert(table), rows)
