"""A fresh PostgreSQL database for the end-to-end test, migrated with the real migrations
and dropped afterwards (PostgreSQL only: the production engine)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared.db import normalize_url
from shared.migrate import upgrade
from tests.conftest import POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = sa.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 3})
    name = f"rw_e2e_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
    url = normalize_url(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
