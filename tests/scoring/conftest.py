"""Scoring test helpers: an in-process scoring app and a worker run to completion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.scoring.app import create_app
from services.scoring.worker import build_worker
from shared.db import Database
from tests.conftest import auth_headers


@pytest.fixture
def client(db: Database, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


READ = auth_headers("risk:read")
WRITE = auth_headers("risk:read", "models:write")


def drain(db: Database, rounds: int = 20) -> int:
    """Run the scoring worker until its queue is empty; returns items handled."""
    worker = build_worker(db)
    handled = 0
    for _ in range(rounds):
        n = worker.run_once()
        handled += n
        if n == 0:
            break
    return handled
