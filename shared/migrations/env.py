"""Alembic environment: one schema for PostgreSQL and SQLite, batch mode on SQLite."""

from __future__ import annotations

import re
from typing import Any

from alembic import context
from sqlalchemy import pool

from shared.db import make_engine, normalize_url
from shared.models import Base
from shared.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalize_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# PostgreSQL's physical layout of the event table belongs to migration 0013, not to the
# models: its partitions, the de-duplication keys its trigger keeps, and the unique
# constraint that moved to those keys (a partitioned table cannot have it).
POSTGRES_EVENT_LAYOUT = re.compile(r"event_(default|key|\d{4}_\d{2})")


def _include_object(dialect: str) -> Any:
    def include(obj: Any, name: str | None, type_: str, reflected: bool,
                compare_to: Any) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "table" and reflected and compare_to is None:
            return not POSTGRES_EVENT_LAYOUT.fullmatch(name or "")
        return not (type_ == "unique_constraint" and name == "uq_event_source_event_id")
    return include


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=_include_object(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
