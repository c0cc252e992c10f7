"""C2SP signed notes with Ed25519 keys, and the C2SP ``tlog-checkpoint`` text they carry.

The formats are those of golang.org/x/mod/sumdb/note and https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint, so Go's ``note`` package, witnesses and other
transparency-log tooling read our checkpoints, and our verifier reads theirs:

    <origin>\\n<tree size>\\n<base64 root hash>\\n          (the checkpoint, the note's text)
    \\n
    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\\n

A verifier key is written ``<name>+<8 hex digits of key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space open every signature line


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed or does not verify."""


def key_id(name: str, public_key: bytes, algorithm: int = ALG_ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + public_key).digest()[:4]


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"a key name must be non-empty with no spaces or '+': {name!r}")


def vkey_text(name: str, public_key: bytes, algorithm: int) -> str:
    material = base64.b64encode(bytes([algorithm]) + public_key).decode()
    return f"{name}+{key_id(name, public_key, algorithm).hex()}+{material}"


def parse_vkey(vkey: str, algorithm: int) -> tuple[str, bytes]:
    """(name, 32-byte Ed25519 public key) of ``<name>+<key id>+<base64(algorithm || key)>``,
    after checking the algorithm byte and that the id matches the name and key."""
    name, sep, rest = vkey.strip().partition("+")
    id_hex, sep2, material = rest.partition("+")
    if not sep or not sep2 or len(id_hex) != 8:
        raise NoteError("a verifier key reads <name>+<8 hex digits>+<base64 key>")
    check_name(name)
    try:
        raw = base64.b64decode(material, validate=True)
        expected_id = bytes.fromhex(id_hex)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"malformed verifier key: {exc}") from exc
    if len(raw) != 33 or raw[0] != algorithm:
        raise NoteError(f"expected an Ed25519 key of type 0x{algorithm:02x} (32 bytes)")
    if key_id(name, raw[1:], algorithm) != expected_id:
        raise NoteError("the verifier key's id does not match its name and key")
    return name, raw[1:]


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes  # raw 32 bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        return vkey_text(self.name, self.public_key, ALG_ED25519)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        return cls(*parse_vkey(vkey, ALG_ED25519))

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


class Signer:
    def __init__(self, name: str, seed: bytes) -> None:
        check_name(name)
        if len(seed) != 32:
            raise NoteError("an Ed25519 private key seed is 32 bytes")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """A Go-style ``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`` signer key."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<id>+<base64 key>")
        raw = base64.b64decode(parts[4])
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("only Ed25519 signer keys are known")
        signer = cls(parts[2], raw[1:])
        if signer.verifier.key_id.hex() != parts[3]:
            raise NoteError("the signer key's id does not match its name and key")
        return signer

    def sign(self, text: str) -> str:
        """The signed note: ``text`` (ending in a newline), a blank line, our signature."""
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        signature = self._key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text, if ``verifier``'s key signed it; :class:`NoteError` otherwise.
    Signatures by other keys (e.g. witnesses' cosignatures) are allowed and ignored."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    text += "\n"
    found = False
    for line in signatures.removesuffix("\n").split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(SIGNATURE_PREFIX):].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise NoteError("malformed signature") from exc
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if len(raw) != 68 or not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature of {name} does not verify: the note was altered "
                            "or forged")
        found = True
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name}+"
                        f"{verifier.key_id.hex()}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is origin, size and root hash on lines of their own")
        origin, size, root_b64 = lines[0], lines[1], lines[2]
        if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("malformed checkpoint origin or size")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except binascii.Error as exc:
            raise NoteError("malformed checkpoint root hash") from exc
        if len(root) != 32:
            raise NoteError("a checkpoint root hash is 32 bytes")
        return cls(origin, int(size), root)


def open_checkpoint(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """The checkpoint a signed note carries, after checking the signature (and the origin:
    a checkpoint of another log signed with the same key proves nothing about this one)."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint of log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
