"""SQL helpers the alerts repositories share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shared.db import is_postgres


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, whose SQL text does not change
    with the number of values, so the driver prepares it once (an IN list of a batch's 200
    ids was re-rendered and re-parsed on every query)."""
    listed = list(values)
    if not is_postgres(session):
        return column.in_(listed)
    item = BigInteger() if listed and isinstance(listed[0], int) else String()
    return column == any_(bindparam(None, listed, type_=ARRAY(item)))
