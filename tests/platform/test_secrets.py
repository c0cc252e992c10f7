"""shared/secrets.py: stored secrets are Fernet tokens; keys rotate (new key first, old keys
still open what they sealed); a key that cannot open a token says which setting to fix."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from shared.secrets import SecretBox, SecretUnreadable


def box(keys: str | None, purpose: str = "alerts-receivers") -> SecretBox:
    return SecretBox(keys=SecretStr(keys) if keys else None, purpose=purpose,
                     setting="RISKWATCH_ALERTS_RECEIVERS_SECRETS_KEYS")


def test_a_sealed_secret_is_not_plaintext_and_opens_again() -> None:
    token = box(None).seal("whsec_plain-secret")
    assert "plain-secret" not in token and box(None).open(token) == "whsec_plain-secret"


def test_rotated_keys_still_open_old_tokens_and_seal_with_the_new_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = box(old).seal("s1")
    rotated = box(f"{new}, {old}")
    assert rotated.open(sealed_before) == "s1"
    assert box(new).open(rotated.seal("s2")) == "s2"


def test_derived_keys_differ_per_purpose_and_a_wrong_key_names_the_setting() -> None:
    token = box(None, purpose="ingest").seal("x")
    with pytest.raises(SecretUnreadable, match="RISKWATCH_ALERTS_RECEIVERS_SECRETS_KEYS"):
        box(None, purpose="alerts-receivers").open(token)
