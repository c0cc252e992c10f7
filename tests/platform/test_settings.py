"""Settings refuse the built-in secret outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import DEV_INTERNAL_SECRET, Settings


def test_prod_refuses_the_default_internal_secret() -> None:
    with pytest.raises(ValidationError, match="RISKWATCH_INTERNAL_SECRET must be set"):
        Settings(env="prod", internal_secret=DEV_INTERNAL_SECRET)
    assert Settings(env="prod", internal_secret="s3cret-from-the-vault").env == "prod"


def test_service_urls_default_to_host_and_port() -> None:
    settings = Settings(host="10.0.0.5", scoring_port=9002, ingest_url="http://ingest:8001/")
    assert settings.service_url("scoring") == "http://10.0.0.5:9002"
    assert settings.service_url("ingest") == "http://ingest:8001"
