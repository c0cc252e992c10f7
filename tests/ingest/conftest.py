"""Ingest test fixtures: the ingest app in-process on each engine, with webhook secrets set."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from shared.db import Database
from tests.conftest import auth_headers

WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy0xMjM0NTY3ODkwYWJjZGVm"
ZOHO_CHANNEL, ZOHO_TOKEN = "1000000068001", "zoho-channel-token"
SF_ORG, SF_TOKEN = "00D000000000062EAA", "salesforce-token"


# The real processes of the `live` stack read their webhook secrets from the environment,
# which they inherit from this test process.
os.environ.setdefault("RISKWATCH_INGEST_WEBHOOK_SECRETS", json.dumps({"erp": WEBHOOK_SECRET}))


def ingest_test_settings() -> IngestSettings:
    return IngestSettings(
        max_batch_events=1000,
        webhook_secrets={"erp": SecretStr(WEBHOOK_SECRET)},
        zoho_channels={ZOHO_CHANNEL: SecretStr(ZOHO_TOKEN)},
        salesforce_orgs={SF_ORG: SecretStr(SF_TOKEN)},
    )


@pytest.fixture
def client(db: Database, database_url: str) -> Iterator[TestClient]:
    """The ingest app, with the gateway's identity headers for a writer and reader."""
    app = create_app(database_url, settings=ingest_test_settings())
    with TestClient(app) as test_client:
        test_client.headers.update(auth_headers("ingest:write", "risk:read"))
        yield test_client
