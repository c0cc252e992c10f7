"""Fxiaoke (纷享销客) open platform: the push callback's encrypted envelope, and what a CRM
record means to riskwatch (account records are customer profiles, other records events).

The envelope, as the open platform's official demo (github.com/openfxiaoke/demo,
``FSCallbackController``, ``SigUtils``, ``PKCS7Encoder``) reads it: a JSON body ``{nonce,
timeStamp (ms), content, sig}``; ``sig`` is the hex SHA-1 of the four strings token,
timeStamp, nonce and content sorted and joined; ``content`` is base64 of AES-256-CBC (key
= base64 of ``encodingAesKey + "="``, IV = the key's first 16 bytes, PKCS#7 padding to 32
bytes) over 16 random bytes, the message's length (4 bytes, network order) and the UTF-8
message. The message is ``{type, content}``: ``PermanentCode``, ``CancelPermanentCode`` or
``Message`` (whose ``content`` is a JSON text). Pure functions: no HTTP, no database."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from services.ingest.webhooks.crm import ProfileUpdate, Translation

ADAPTER = "fxiaoke"
ACCOUNT_OBJECT = "AccountObj"  # 客户
# The standard lookup from a CRM record to its account (客户) on Fxiaoke's preset objects.
ACCOUNT_LOOKUP = "account_id"
MODIFIED = "last_modified_time"  # ms since the epoch, on every CRM record
# Fxiaoke AccountObj field -> customer profile field.
ACCOUNT_FIELDS = {"name": "name", "industry": "industry", "country": "country"}
KEY_LENGTH = 43  # an encodingAesKey: 43 base64 characters, 32 bytes once "=" is added
_BLOCK = 32  # the demo's PKCS#7 block size
_OPERATION = re.compile(r"[^a-z0-9_]+")


class EnvelopeInvalid(Exception):
    """The body is not a Fxiaoke push (said to the caller)."""


class DecryptFailed(Exception):
    """The content does not decrypt with the app's key (said to the caller)."""


@dataclass(frozen=True)
class Envelope:
    nonce: str
    timestamp: str
    content: str
    sig: str

    @property
    def timestamp_ms(self) -> int:
        return int(self.timestamp)


def parse_envelope(body: Any) -> Envelope:
    if not isinstance(body, dict):
        raise EnvelopeInvalid("the push must be a JSON object")
    values: dict[str, str] = {}
    for name in ("nonce", "timeStamp", "content", "sig"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and name == "timeStamp":
            value = str(value)
        if not isinstance(value, str) or not value:
            raise EnvelopeInvalid(f"{name} is required (a non-empty string)")
        values[name] = value
    if not values["timeStamp"].isascii() or not values["timeStamp"].isdigit() \
            or len(values["timeStamp"]) > 15:
        raise EnvelopeInvalid("timeStamp must be milliseconds since the epoch")
    return Envelope(values["nonce"], values["timeStamp"], values["content"], values["sig"])


def signature(token: str, *, timestamp: str, nonce: str, content: str) -> str:
    """Hex SHA-1 over the four strings sorted and joined (the demo's ``getSHA1``)."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, content))).encode(),
                        usedforsecurity=False).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key an ``encodingAesKey`` stands for (ValueError otherwise)."""
    if len(encoding_aes_key) != KEY_LENGTH:
        raise ValueError(f"an encodingAesKey has {KEY_LENGTH} characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an encodingAesKey is base64") from None
    if len(key) != 32:
        raise ValueError("an encodingAesKey must decode to 32 bytes")
    return key


def decrypt(content: str, key: bytes) -> str:
    """The message inside ``content`` (raises DecryptFailed)."""
    try:
        sealed = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptFailed("content is not base64") from None
    if not sealed or len(sealed) % 16:
        raise DecryptFailed("content is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(sealed) + decryptor.finalize()
    pad = plain[-1]
    if 1 <= pad <= _BLOCK:
        plain = plain[:-pad]
    if len(plain) < 20:
        raise DecryptFailed("content is too short")
    length = int.from_bytes(plain[16:20], "big")
    if length > len(plain) - 20:
        raise DecryptFailed("content does not decrypt with this app's key")
    try:
        return plain[20:20 + length].decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptFailed("content does not decrypt to UTF-8") from None


def message_of(plaintext: str) -> dict[str, Any]:
    """The decrypted ``{type, content}`` with a ``Message``'s JSON content read."""
    try:
        message = json.loads(plaintext)
    except ValueError:
        raise EnvelopeInvalid("the decrypted message is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise EnvelopeInvalid("the decrypted message has no type")
    content = message.get("content")
    if message["type"] == "Message" and isinstance(content, str):
        with contextlib.suppress(ValueError):  # a text message stays text
            message["content"] = json.loads(content)
    return message


def millis_time(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return dt.datetime.fromtimestamp(float(value) / 1000, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _operation(value: Any) -> str:
    cleaned = _OPERATION.sub("_", str(value or "").lower()).strip("_")
    return cleaned[:30] or "changed"


def translate_record(api_name: str, record: dict[str, Any], *, operation: str,
                     result: Translation) -> None:
    """One CRM record into ``result``: an account (not deleted) is a profile update, any
    other record an event ``fxiaoke.<object>.<operation>`` for its account, or ignored
    without one."""
    data_id = record.get("_id")
    if not isinstance(data_id, str) or not data_id:
        result.ignored += 1
        return
    modified = millis_time(record.get(MODIFIED))
    operation = _operation(operation)
    if api_name == ACCOUNT_OBJECT and operation not in ("invalid", "delete", "deleted"):
        result.profiles.append(ProfileUpdate(data_id, account_fields(record), modified))
        return
    subject = data_id if api_name == ACCOUNT_OBJECT else record.get(ACCOUNT_LOOKUP)
    if not isinstance(subject, str) or not subject:
        result.ignored += 1
        return
    stamp = record.get(MODIFIED) if modified else 0
    # One version of a record is one event whether pushed or polled (the operation names
    # differ between the two); a deletion is an event of its own.
    suffix = f"/{operation}" if operation in ("invalid", "delete", "deleted") else ""
    event: dict[str, Any] = {
        "specversion": "1.0", "id": f"{api_name}/{data_id}/{stamp}{suffix}",
        "source": ADAPTER, "subject": subject,
        "type": f"fxiaoke.{api_name.lower()}.{operation}"[:100],
        "data": {"api_name": api_name, "data_id": data_id, "operation": operation,
                 "values": record},
    }
    if modified:
        event["time"] = modified.isoformat()
    result.events.append(event)


def translate_message(message: dict[str, Any]) -> Translation:
    """A pushed ``Message`` about a CRM record change: ``content`` carrying ``apiName``,
    ``dataId``, ``eventType`` and the record's fields in ``data`` (the record as the
    data-query API returns it). Other messages (text, PermanentCode…) translate to nothing."""
    result = Translation()
    content = message.get("content")
    if message.get("type") != "Message" or not isinstance(content, dict):
        result.ignored += 1
        return result
    api_name = content.get("apiName") or content.get("objectApiName")
    data_id = content.get("dataId") or content.get("objectId")
    if not isinstance(api_name, str) or not isinstance(data_id, str | int):
        result.ignored += 1
        return result
    data = content.get("data")
    record: dict[str, Any] = {**(data if isinstance(data, dict) else {}), "_id": str(data_id)}
    if MODIFIED not in record and content.get("eventTime") is not None:
        record[MODIFIED] = content["eventTime"]
    translate_record(api_name, record, operation=str(content.get("eventType") or "updated"),
                     result=result)
    return result


def account_fields(record: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for theirs, ours in ACCOUNT_FIELDS.items():
        value = record.get(theirs)
        if isinstance(value, str) and value.strip():
            fields[ours] = value.strip()
    country = fields.get("country")
    if country is not None:
        if len(country) == 2:
            fields["country"] = country.upper()
        else:
            del fields["country"]
    return fields
