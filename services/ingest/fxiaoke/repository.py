"""SQL for the Fxiaoke poller: its lease, cached token and per-object watermarks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.db import dialect_insert
from shared.models.ingest import FxiaokePollState, FxiaokeWatermark


def take_lease(session: Session, connection: str, *, holder: str, now: dt.datetime,
               until: dt.datetime) -> bool:
    """True when this holder now holds the connection's lease (free, expired or its own)."""
    session.execute(dialect_insert(session)(FxiaokePollState)
                    .values(connection=connection)
                    .on_conflict_do_nothing(index_elements=[FxiaokePollState.connection]))
    result = session.execute(
        update(FxiaokePollState)
        .where(FxiaokePollState.connection == connection,
               or_(FxiaokePollState.locked_until.is_(None),
                   FxiaokePollState.locked_until < now,
                   FxiaokePollState.locked_by == holder))
        .values(locked_by=holder, locked_until=until))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(session: Session, connection: str, *, holder: str, now: dt.datetime,
                  error: str | None) -> None:
    session.execute(
        update(FxiaokePollState)
        .where(FxiaokePollState.connection == connection,
               FxiaokePollState.locked_by == holder)
        .values(locked_by=None, locked_until=None, last_run_at=now, last_error=error))


def state(session: Session, connection: str) -> FxiaokePollState | None:
    return session.get(FxiaokePollState, connection)


def save_token(session: Session, connection: str, *, ciphertext: str | None,
               expires_at: dt.datetime | None) -> None:
    session.execute(update(FxiaokePollState)
                    .where(FxiaokePollState.connection == connection)
                    .values(token_ciphertext=ciphertext, token_expires_at=expires_at))


def watermark(session: Session, connection: str, api_name: str) -> tuple[int, list[str]]:
    row = session.execute(select(FxiaokeWatermark.modified_ms, FxiaokeWatermark.seen_ids)
                          .where(FxiaokeWatermark.connection == connection,
                                 FxiaokeWatermark.api_name == api_name)).first()
    return (int(row.modified_ms), list(row.seen_ids or [])) if row else (0, [])


def set_watermark(session: Session, connection: str, api_name: str, *, modified_ms: int,
                  seen_ids: list[str], now: dt.datetime) -> None:
    values: dict[str, Any] = {"connection": connection, "api_name": api_name,
                              "modified_ms": modified_ms, "seen_ids": seen_ids,
                              "updated_at": now}
    stmt = dialect_insert(session)(FxiaokeWatermark).values(**values)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[FxiaokeWatermark.connection, FxiaokeWatermark.api_name],
        set_={"modified_ms": stmt.excluded.modified_ms, "seen_ids": stmt.excluded.seen_ids,
              "updated_at": stmt.excluded.updated_at}))
