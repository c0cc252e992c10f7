"""Audit log settings (prefix ``RISKWATCH_AUDIT_``) and the checkpoint signer they name."""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import get_settings
from shared.transparency.cosignature import CosignerVerifier
from shared.transparency.note import NoteError, Signer, Verifier
from shared.transparency.witness import FileWitness, HttpWitness, Witness

DEFAULT_ORIGIN = "riskwatch.local/audit"


def dev_seed(origin: str) -> bytes:
    """The dev and test signing key: derived from the origin, so it is the same on every
    run and every replica, and therefore public; refused outside dev and test."""
    return hashlib.sha256(b"riskwatch-dev-only-audit-signing-key:" + origin.encode()).digest()


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_AUDIT_", extra="ignore")

    origin: str = Field(DEFAULT_ORIGIN, description=(
        "The log's name in its checkpoints (C2SP origin, e.g. 'riskwatch.example.com/audit'); "
        "also the signing key's name. Choose it once: checkpoints of another origin are "
        "another log."))
    signing_key: str | None = Field(None, description=(
        "Ed25519 private key: base64 of the 32-byte seed, or a Go note signer key "
        "'PRIVATE+KEY+<name>+<id>+<base64>'. Required outside dev and test."))
    witness_file: Path | None = Field(None, description=(
        "A file (ideally on storage the database's operators cannot write) where every new "
        "checkpoint is written once it is proven consistent with the one already there."))
    witness_urls: list[str] = Field(default_factory=list, description=(
        "Witnesses speaking the C2SP tlog-witness protocol (their submission prefix; "
        "POST <url>/add-checkpoint), e.g. a partner's `riskwatch audit witness`: every new "
        "checkpoint is pushed with a consistency proof and their cosignatures are added to "
        "it. A JSON list."))
    witness_keys: list[str] = Field(default_factory=list, description=(
        "The witnesses' cosigner keys (<name>+<id>+<base64>, type 0x04): only cosignatures "
        "that verify against one are kept. A JSON list; empty keeps what witnesses answer "
        "unchecked."))
    witness_timeout_seconds: float = Field(5.0, gt=0, le=60, description=(
        "how long the sequencer waits for a witness before going on without its "
        "cosignature (seconds)"))
    sequence_interval_seconds: float = Field(
        0.5, gt=0, description="how often the sequencer integrates committed entries into the "
        "tree and signs a checkpoint (seconds)")
    batch_size: int = Field(20_000, ge=1, description="entries integrated per sequencer pass "
                            "at most")

    @model_validator(mode="after")
    def _key_required_outside_dev(self) -> AuditSettings:
        env = get_settings().env
        if env in ("dev", "test"):
            return self
        if not self.signing_key:
            raise ValueError(f"RISKWATCH_AUDIT_SIGNING_KEY must be set when RISKWATCH_ENV={env}"
                             " (e.g. `python -c 'import os, base64; "
                             "print(base64.b64encode(os.urandom(32)).decode())'`)")
        if _seed(self.signing_key, self.origin) == dev_seed(self.origin):
            raise ValueError("RISKWATCH_AUDIT_SIGNING_KEY is the public dev key")
        return self

    @field_validator("witness_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"a witness URL is http:// or https:// with a host: {url!r}")
        return urls

    @field_validator("witness_keys")
    @classmethod
    def _cosigner_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            try:
                CosignerVerifier.parse(key)
            except NoteError as exc:
                raise ValueError(f"witness key {key!r}: {exc}") from exc
        return keys

    def witnesses(self, verifier: Verifier) -> list[Witness]:
        found: list[Witness] = []
        if self.witness_file:
            found.append(FileWitness(self.witness_file, verifier, origin=self.origin))
        cosigners = [CosignerVerifier.parse(key) for key in self.witness_keys]
        found += [HttpWitness(url, cosigners=cosigners,
                              timeout_seconds=self.witness_timeout_seconds)
                  for url in self.witness_urls]
        return found

    def signer(self) -> Signer:
        if not self.signing_key:
            return Signer(self.origin, dev_seed(self.origin))
        if self.signing_key.startswith("PRIVATE+KEY+"):
            return Signer.parse(self.signing_key)
        return Signer(self.origin, _seed(self.signing_key, self.origin))


def _seed(signing_key: str, origin: str) -> bytes:
    if signing_key.startswith("PRIVATE+KEY+"):
        return base64.b64decode(signing_key.split("+", 4)[4])[1:]
    try:
        seed = base64.b64decode(signing_key, validate=True)
    except binascii.Error as exc:
        raise ValueError("RISKWATCH_AUDIT_SIGNING_KEY is not base64") from exc
    if len(seed) != 32:
        raise ValueError("RISKWATCH_AUDIT_SIGNING_KEY must be 32 bytes (base64 of an Ed25519 "
                         "seed)")
    return seed


@lru_cache
def get_audit_settings() -> AuditSettings:
    return AuditSettings()


@lru_cache
def get_signer() -> Signer:
    try:
        return get_audit_settings().signer()
    except NoteError as exc:
        raise ValueError(f"RISKWATCH_AUDIT_SIGNING_KEY: {exc}") from exc
