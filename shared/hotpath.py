"""One statement on a request's hot path: run on a pooled driver connection in autocommit,
without the Session.

For the few statements a hot route sends (GET /risk's read; a credit decision's read and its
audit entry): there the Session, the Connection and the Result wrapped around one statement
cost more CPU than the statement and its round trip together. Measured in-process on
PostgreSQL: the risk read 0.52 ms of the caller's CPU through ``Database.read()``, 0.19 ms
here; an audit append 0.36–0.43 ms through ``Database.autocommit()``, 0.14–0.18 ms here
(bench/risk_lookup.py, bench/README.md).

What stays SQLAlchemy's: the SQL (compiled once per dialect from the same construct), and
each column type's own bind and result processing, so values go in and come back exactly as
through the ORM (UTC-aware times, decimals, JSON) on PostgreSQL and SQLite alike. What is
left out is the machinery around one execution: events, the unit of work, the result object.

Hence one statement that stands alone: a SELECT, or an INSERT … RETURNING that commits by
itself (``Database.autocommit()``'s rule). Writes that must commit together belong in
``Database.transaction()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from shared.db import Database

Processor = Callable[[Any], Any] | None


@dataclass
class _Plan:
    """The statement compiled for one dialect, with its bind processors (by name)."""

    sql: str
    positional: Sequence[str] | None  # parameter order for a positional driver (SQLite)
    defaults: dict[str, Any]  # the statement's own literal values, already processed
    bind: dict[str, Processor]
    results: list[Processor] | None = field(default=None)  # set at the first row


class HotStatement:
    """``HotStatement(select(...)).first(db, name=value, ...)``: the first row as a tuple of
    column values, or None. An ``insert(...).returning(...)`` gives the row it returned."""

    def __init__(self, statement: Select[*tuple[Any, ...]] | Insert) -> None:
        if not (isinstance(statement, Select)
                or (isinstance(statement, Insert) and statement.exported_columns)):
            raise TypeError("HotStatement runs a SELECT or an INSERT ... RETURNING")
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def first(self, db: Database, **params: Any) -> tuple[Any, ...] | None:
        dialect = db.engine.dialect
        plan = self._plans.get(dialect.name) or self._plan(dialect)
        values = dict(plan.defaults)
        for name, value in params.items():
            if name not in plan.bind:  # a value the statement would silently drop
                raise TypeError(f"HotStatement has no parameter {name!r}")
            process = plan.bind[name]
            values[name] = value if process is None else process(value)
        arguments: Any = (values if plan.positional is None
                          else [values[name] for name in plan.positional])
        row, description = self._execute(db, plan.sql, arguments)
        if row is None:
            return None
        if plan.results is None:
            plan.results = [
                column.type.dialect_impl(dialect).result_processor(dialect, column_type)
                for column, column_type in zip(self.statement.exported_columns,
                                               (d[1] for d in description), strict=True)]
        return tuple(value if process is None or value is None else process(value)
                     for process, value in zip(plan.results, row, strict=True))

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = self.statement.compile(dialect=dialect)
        binds = compiled.binds
        if any(bind.expanding for bind in binds.values()) or "__[POSTCOMPILE_" in compiled.string:
            raise TypeError("HotStatement takes no IN lists (expanding parameters)")
        if getattr(compiled, "escaped_bind_names", None):
            raise TypeError("HotStatement takes plain parameter names only")
        # The ORM fills these in at each execution; here they would be sent as NULL.
        defaulted = [column.key for column in getattr(compiled, "insert_prefetch", ())]
        if defaulted:
            raise TypeError(f"HotStatement computes no column defaults: give {defaulted}")
        bind: dict[str, Processor] = {
            name: parameter.type.dialect_impl(dialect).bind_processor(dialect)
            for name, parameter in binds.items()}
        plan = _Plan(
            sql=compiled.string,
            positional=list(compiled.positiontup or []) if dialect.positional else None,
            # The statement's own values, processed once here rather than at every call.
            defaults={name: parameter.value if (process := bind[name]) is None
                      else process(parameter.value)
                      for name, parameter in binds.items()
                      if parameter.value is not None or not parameter.required},
            bind=bind)
        self._plans[dialect.name] = plan
        return plan

    @staticmethod
    def _execute(db: Database, sql: str, arguments: Any
                 ) -> tuple[Sequence[Any] | None, Any]:
        """One statement on a connection from the engine's pool, in autocommit (no BEGIN,
        COMMIT or ROLLBACK round trip), which it leaves as it found it."""
        dialect = db.engine.dialect
        connection = db.engine.raw_connection()
        cursor = None
        try:
            driver: Any = connection.driver_connection
            # SQLite's connections are in autocommit already (shared/db.py issues BEGIN).
            postgres = dialect.name == "postgresql"
            was_autocommit = driver.autocommit if postgres else None
            if postgres:
                driver.autocommit = True
            try:
                cursor = connection.cursor()
                cursor.execute(sql, arguments)
                row, description = cursor.fetchone(), cursor.description
                cursor.close()
            finally:
                if postgres and not driver.closed:
                    driver.autocommit = was_autocommit
            return row, description
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, connection, cursor):
                # The pool's own call, as Connection makes it: every connection older
                # than now is replaced at its next checkout.
                db.engine.pool._invalidate(connection, exc)
            raise DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error) from exc
        finally:
            connection.close()
