"""Reviews test helpers: an in-process reviews app and callers with review scopes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.reviews.app import create_app
from shared.db import Database
from tests.scoring.conftest import FreshIdentity


@pytest.fixture
def client(db: Database, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


READ = FreshIdentity("reviews:read")
WRITE = FreshIdentity("reviews:read", "reviews:write")
