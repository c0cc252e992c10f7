"""C2SP ``tlog-cosignature`` v1 (Ed25519): a witness's timestamped signature on a log's
checkpoint, carried as one more signature line of the signed note (https://c2sp.org/
tlog-cosignature). The signed message is::

    cosignature/v1\\n
    time <POSIX seconds>\\n
    <the checkpoint text: origin, size, root hash, extension lines>

and the line's blob is ``key id (4) || timestamp (8, big-endian) || signature (64)``, with
``key id = SHA-256(name || "\\n" || 0x04 || public key)[:4]``. A cosigner's verifier key is
written ``<name>+<8 hex digits>+<base64(0x04 || public key)>``, as Go's ``note`` and
``torchwood`` packages write it, so a witness operator's published key is used as is.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.transparency.note import (
    SIGNATURE_PREFIX,
    NoteError,
    check_name,
    key_id,
    parse_vkey,
    vkey_text,
)

ALG_COSIGNATURE_V1 = 0x04
BLOB_BYTES = 4 + 8 + 64


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return key_id(name, public_key, ALG_COSIGNATURE_V1)


def signed_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class CosignerVerifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return vkey_text(self.name, self.public_key, ALG_COSIGNATURE_V1)

    @classmethod
    def parse(cls, vkey: str) -> CosignerVerifier:
        return cls(*parse_vkey(vkey, ALG_COSIGNATURE_V1))

    def timestamp_of(self, line: str, checkpoint_text: str) -> int | None:
        """The time the line's cosignature was made, if it is this cosigner's valid
        cosignature on ``checkpoint_text``; None for another key's line or a bad one."""
        if not line.startswith(SIGNATURE_PREFIX):
            return None
        name, _, blob = line[len(SIGNATURE_PREFIX):].strip().partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            return None
        if name != self.name or len(raw) != BLOB_BYTES or raw[:4] != self.key_id:
            return None
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                raw[12:], signed_message(checkpoint_text, timestamp))
        except InvalidSignature:
            return None
        return int(timestamp)


class Cosigner:
    """A witness's signing key: cosigns checkpoints it has checked."""

    def __init__(self, name: str, seed: bytes) -> None:
        check_name(name)
        if len(seed) != 32:
            raise NoteError("an Ed25519 private key seed is 32 bytes")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = CosignerVerifier(name, public)

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """One signature line (ending in a newline) to append to the checkpoint's note."""
        if not 0 <= timestamp < 2**63:
            raise NoteError("a cosignature timestamp is 0 to 2^63 - 1")
        signature = self._key.sign(signed_message(checkpoint_text, timestamp))
        blob = self.verifier.key_id + struct.pack(">Q", timestamp) + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def note_text(note: str) -> str:
    """The text part of a signed note (up to and including its last text line's newline)."""
    text, sep, _ = note.rpartition("\n\n")
    if not sep:
        raise NoteError("malformed note: no blank line before the signatures")
    return text + "\n"


def signature_lines(note: str) -> list[str]:
    _, _, signatures = note.rpartition("\n\n")
    return [line for line in signatures.split("\n") if line]


def with_cosignatures(note: str, lines: list[str]) -> str:
    """``note`` with ``lines`` appended, each once (a repeated push adds nothing)."""
    held = set(signature_lines(note))
    extra = [line.rstrip("\n") for line in lines if line.rstrip("\n") not in held]
    return note + "".join(f"{line}\n" for line in extra)
