"""Scoring test helpers: an in-process scoring app and a worker run to completion."""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, Mapping

import pytest
from fastapi.testclient import TestClient

from services.scoring.app import create_app
from services.scoring.settings import get_scoring_settings
from services.scoring.worker import build_worker
from shared.db import Database
from tests.conftest import auth_headers


@pytest.fixture
def client(db: Database, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


class FreshIdentity(Mapping[str, str]):
    """Caller headers signed when a request is sent: the signed identity expires after five
    minutes, and the scoring tests run longer than that on a busy machine."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = scopes

    def items(self) -> ItemsView[str, str]:
        return auth_headers(*self.scopes).items()

    def __getitem__(self, name: str) -> str:
        return auth_headers(*self.scopes)[name]

    def __iter__(self) -> Iterator[str]:
        return iter(auth_headers(*self.scopes))

    def __len__(self) -> int:
        return len(auth_headers(*self.scopes))


READ = FreshIdentity("risk:read")
WRITE = FreshIdentity("risk:read", "models:write")


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


@pytest.fixture
def scoring_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """``scoring_setting("event_batch_size", "7")``: a scoring setting for one test (its
    ``RISKWATCH_SCORING_*`` variable), read anew now and again after the test."""
    def setting(name: str, value: str) -> None:
        monkeypatch.setenv(f"RISKWATCH_SCORING_{name.upper()}", value)
        get_scoring_settings.cache_clear()

    yield setting
    get_scoring_settings.cache_clear()
