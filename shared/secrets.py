"""Encryption at rest for secrets the API stores (webhook-source secrets, receivers' signing
secrets and notification URLs): Fernet (AES-128-CBC + HMAC-SHA256) from the ``cryptography``
package, with MultiFernet so the key can be rotated (new key first, old keys after it still
decrypt)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from shared.settings import get_settings


class SecretUnreadable(RuntimeError):
    """A stored secret the configured keys cannot decrypt (keys rotated away, or changed)."""


class SecretBox:
    """Seals and opens text with the keys of one setting.

    ``keys``: comma-separated Fernet keys, the first one encrypts; without them, one key
    derived from the internal secret and ``purpose`` (which the platform settings already
    refuse to leave at its default outside dev and test). ``setting`` names the environment
    variable in the error raised when a stored value cannot be decrypted.
    """

    def __init__(self, *, keys: SecretStr | None, purpose: str, setting: str) -> None:
        if keys is not None:
            raw = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        else:
            derived = hashlib.sha256(f"riskwatch-{purpose}-secrets:".encode()
                                     + get_settings().internal_secret.encode()).digest()
            raw = [base64.urlsafe_b64encode(derived).decode()]
        self._cipher = MultiFernet([Fernet(key) for key in raw])
        self._setting = setting

    def seal(self, plaintext: str) -> str:
        return self._cipher.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._cipher.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(f"a stored secret cannot be decrypted with the configured "
                                   f"keys ({self._setting})") from None
