"""Checkpoints as C2SP signed notes, byte for byte as Go's sumdb/note writes them, and the
signing key refused outside dev like the internal secret."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from shared.settings import get_settings
from shared.transparency.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
)
from shared.transparency.settings import AuditSettings, dev_seed

# golang.org/x/mod/sumdb/note note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1"
                     "FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_our_signature_of_the_go_example_is_the_go_note_byte_for_byte() -> None:
    signer = Signer.parse(GO_SKEY)
    assert signer.verifier.vkey == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.parse(GO_VKEY)) == GO_TEXT


def test_an_altered_note_or_another_key_does_not_verify() -> None:
    verifier = Verifier.parse(GO_VKEY)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), verifier)
    other = Signer("PeterNeumann", bytes(32))
    with pytest.raises(NoteError, match="no signature by"):
        open_note(other.sign(GO_TEXT), verifier)
    with pytest.raises(NoteError):
        Verifier.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))


def test_a_checkpoint_note_carries_origin_size_and_root_and_checks_the_origin() -> None:
    signer = Signer("example.com/log", bytes(range(32)))
    checkpoint = Checkpoint("example.com/log", 42, bytes(32))
    note = signer.sign(checkpoint.text())
    assert note.startswith("example.com/log\n42\n" + base64.b64encode(bytes(32)).decode()
                           + "\n\n\u2014 example.com/log ")
    assert open_checkpoint(note, signer.verifier, origin="example.com/log") == checkpoint
    with pytest.raises(NoteError, match="not 'other/log'"):
        open_checkpoint(note, signer.verifier, origin="other/log")
    with pytest.raises(NoteError):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), signer.verifier)


def test_the_signing_key_is_required_outside_dev_and_the_dev_key_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKWATCH_ENV", "prod")
    monkeypatch.setenv("RISKWATCH_INTERNAL_SECRET", "x" * 48)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match="RISKWATCH_AUDIT_SIGNING_KEY must be set"):
            AuditSettings()
        dev = base64.b64encode(dev_seed("riskwatch.local/audit")).decode()
        with pytest.raises(ValidationError, match="public dev key"):
            AuditSettings(signing_key=dev)
        with pytest.raises(ValidationError, match="32 bytes"):
            AuditSettings(signing_key=base64.b64encode(b"short").decode())
        seed = bytes(range(1, 33))
        settings = AuditSettings(signing_key=base64.b64encode(seed).decode(), origin="rw/a")
        assert settings.signer().verifier == Signer("rw/a", seed).verifier
    finally:
        get_settings.cache_clear()


def test_in_dev_the_key_is_derived_from_the_origin_so_every_replica_signs_alike() -> None:
    one = AuditSettings(origin="a.example/audit").signer()
    again = AuditSettings(origin="a.example/audit").signer()
    assert one.verifier == again.verifier
    assert AuditSettings(origin="b.example/audit").signer().verifier != one.verifier
