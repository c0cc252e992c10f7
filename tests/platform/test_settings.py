"""Settings refuse the built-in secret, placeholders and short secrets outside development."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from shared.settings import DEV_INTERNAL_SECRET, Settings
from tests.stack import ROOT


def test_prod_refuses_the_default_internal_secret() -> None:
    with pytest.raises(ValidationError, match="RISKWATCH_INTERNAL_SECRET must be set"):
        Settings(env="prod", internal_secret=DEV_INTERNAL_SECRET)
    vaulted = "s3cret-from-the-vault-0123456789abcdef"
    assert Settings(env="prod", internal_secret=vaulted).env == "prod"


def test_service_urls_default_to_host_and_port() -> None:
    settings = Settings(host="10.0.0.5", scoring_port=9002, ingest_url="http://ingest:8001/")
    assert settings.service_url("scoring") == "http://10.0.0.5:9002"
    assert settings.service_url("ingest") == "http://ingest:8001"


@pytest.mark.parametrize("placeholder", [
    "CHANGE-ME", "changeme", "secret", "Change_Me", "REPLACE-ME-with-32-random-bytes-please",
    "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME", DEV_INTERNAL_SECRET.upper(),
])
def test_prod_refuses_a_placeholder_secret_with_a_clear_message(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="RISKWATCH_INTERNAL_SECRET is a placeholder"):
        Settings(env="prod", internal_secret=placeholder)


def test_prod_refuses_a_secret_shorter_than_32_bytes() -> None:
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(env="prod", internal_secret="k7Qz-31-bytes-of-real-randomnes")
    assert Settings(env="prod", internal_secret="k7Qz-32-bytes-of-real-randomness").env == "prod"


def test_dev_and_test_accept_short_secrets() -> None:
    assert Settings(env="dev", internal_secret="CHANGE-ME").internal_secret == "CHANGE-ME"
    assert Settings(env="test", internal_secret="short").internal_secret == "short"


def test_a_service_refuses_to_start_in_prod_with_the_shipped_placeholder() -> None:
    env = {**os.environ, "RISKWATCH_ENV": "prod", "RISKWATCH_INTERNAL_SECRET": "CHANGE-ME"}
    started = subprocess.run([sys.executable, "-m", "riskwatch", "serve", "gateway",
                              "--port", "1"], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert started.returncode != 0
    assert "RISKWATCH_INTERNAL_SECRET is a placeholder" in started.stderr
    assert "CHANGE-ME" not in started.stderr.replace("RISKWATCH_INTERNAL_SECRET", "")
