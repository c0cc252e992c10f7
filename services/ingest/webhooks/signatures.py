"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}`` with a ``whsec_<base64>`` secret, sent as
space-separated ``v1,<base64>`` entries (several during key rotation)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time


class SignatureInvalid(Exception):
    """Why a delivery is refused (said to the caller, never the secret)."""


def secret_bytes(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be 'whsec_' followed by base64") from None


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature a sender computes (used by tests and the README)."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secrets: list[str], *, msg_id: str | None, timestamp: str | None,
           signatures: str | None, body: bytes, tolerance: int,
           now: float | None = None) -> None:
    """Raise :class:`SignatureInvalid` unless one signature matches one secret in time."""
    if not msg_id or not timestamp or not signatures:
        raise SignatureInvalid("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp must be Unix seconds") from None
    if abs((now if now is not None else time.time()) - stamp) > tolerance:
        raise SignatureInvalid("webhook-timestamp is outside the allowed window")
    offered = [s.split(",", 1)[1] for s in signatures.split()
               if s.startswith("v1,") and "," in s]
    for secret in secrets:
        expected = sign(secret, msg_id=msg_id, timestamp=stamp, body=body).split(",", 1)[1]
        # Compare against every offered signature so timing says nothing about which matched.
        matched = False
        for candidate in offered:
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
        if matched:
            return
    raise SignatureInvalid("no signature matches")
