"""Encryption at rest for webhook secrets: Fernet (AES-128-CBC + HMAC-SHA256) from the
``cryptography`` package, with MultiFernet so the key can be rotated (new key first, old keys
after it still decrypt)."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.ingest.settings import IngestSettings
from shared.settings import get_settings


def cipher(settings: IngestSettings) -> MultiFernet:
    """Keys from RISKWATCH_INGEST_SECRETS_KEYS (comma-separated Fernet keys, first one
    encrypts); without them, one derived from the internal secret, which the platform
    settings already refuse to leave at its default outside dev and test."""
    if settings.secrets_keys is not None:
        keys = [k.strip() for k in settings.secrets_keys.get_secret_value().split(",")
                if k.strip()]
    else:
        derived = hashlib.sha256(b"riskwatch-ingest-secrets:"
                                 + get_settings().internal_secret.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def seal(settings: IngestSettings, secrets: list[str]) -> str:
    return cipher(settings).encrypt(json.dumps(secrets).encode()).decode()


def unseal(settings: IngestSettings, token: str) -> list[str]:
    try:
        secrets: list[str] = json.loads(cipher(settings).decrypt(token.encode()))
    except InvalidToken:
        raise RuntimeError("a stored webhook secret cannot be decrypted with the configured "
                           "keys (RISKWATCH_INGEST_SECRETS_KEYS)") from None
    return secrets
