"""What a receiver and a partner check, written from the README's documented algorithms
(Standard Webhooks signatures; C2SP signed notes with Ed25519; RFC 9162 inclusion proofs),
never with the product's own signer or verifier, so a bug shared by both cannot hide."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_TOLERANCE_SECONDS = 300


def webhook_signature_valid(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """``webhook-signature`` holds ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
    keyed with the base64 bytes after ``whsec_``; the timestamp must be recent."""
    message_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.partition(",") for part in headers["webhook-signature"].split()]
    return any(version == "v1" and hmac.compare_digest(signature, expected)
               for version, _, signature in offered)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes


def open_checkpoint(note: str, verifier_key: str) -> Checkpoint:
    """The checkpoint of a C2SP signed note, after checking its Ed25519 signature by the key
    ``<name>+<hex key id>+<base64 of 0x01 ‖ public key>`` (raises AssertionError if not)."""
    # A name holds no "+", the base64 key may: split from the left.
    name, key_hex, key_b64 = verifier_key.split("+", 2)
    typed_key = base64.b64decode(key_b64)
    assert typed_key[0] == 0x01, "not an Ed25519 verifier key"
    key_id = hashlib.sha256(name.encode() + b"\n" + typed_key).digest()[:4]
    assert key_id.hex() == key_hex, "the verifier key's id does not match its key"
    text, separator, signatures = note.rpartition("\n\n")
    assert separator and note.endswith("\n"), "no blank line before the signatures"
    text += "\n"
    public = Ed25519PublicKey.from_public_bytes(typed_key[1:])
    verified = False
    for line in signatures.splitlines():
        signer, _, blob = line.removeprefix("\u2014 ").rpartition(" ")
        raw = base64.b64decode(blob)
        if signer != name or raw[:4] != key_id:
            continue  # another signer's line (a witness cosignature)
        try:
            public.verify(raw[4:], text.encode())
            verified = True
        except InvalidSignature:
            raise AssertionError("the checkpoint's signature does not verify") from None
    assert verified, f"the checkpoint carries no signature by {name}"
    origin, size, root = text.splitlines()[:3]
    return Checkpoint(origin=origin, tree_size=int(size), root_hash=base64.b64decode(root))


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(leaf: bytes, index: int, tree_size: int, proof: list[bytes]) -> bytes:
    """The root an RFC 9162 §2.1.3.2 audit path leads to from ``leaf`` (raises
    AssertionError when the path's length does not fit the tree)."""
    assert 0 <= index < tree_size, "leaf index outside the tree"
    fn, sn, root = index, tree_size - 1, leaf_hash(leaf)
    for sibling in proof:
        assert sn != 0, "audit path longer than the tree allows"
        if fn & 1 or fn == sn:
            root = _node(sibling, root)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            root = _node(root, sibling)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0, "audit path shorter than the tree needs"
    return root
