"""Response shapes of the audit log routes (hashes in standard base64, as checkpoints)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]
    leaf_index: int | None = Field(description="Its place in the Merkle tree; null until the "
                                               "sequencer integrates it (about a second)")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after_id: int | None


class CheckpointOut(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    created_at: dt.datetime
    note: str = Field(description="The C2SP signed note (tlog-checkpoint), verbatim: keep it "
                                  "to check later that the log only grew")


class PublicKeyOut(BaseModel):
    origin: str
    algorithm: str = "Ed25519"
    verifier_key: str = Field(description="C2SP note verifier key: name+key id+base64 key; "
                                          "what `riskwatch audit verify-export` takes")
    public_key: str = Field(description="The raw 32-byte Ed25519 public key, base64")


class InclusionOut(BaseModel):
    entry_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str] = Field(description="RFC 9162 §2.1.3 audit path, leaf to root")
    checkpoint: str | None = Field(description="The signed checkpoint of this tree size, "
                                               "when one was published at that size")


class ConsistencyOut(BaseModel):
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str] = Field(description="RFC 9162 §2.1.4 consistency proof")


class VerificationOut(BaseModel):
    ok: bool
    entries: int = Field(description="Sequenced entries recomputed")
    checkpoints: int = Field(description="Stored checkpoints whose signature was checked")
    tree_size: int
    unsequenced: int = Field(description="Committed entries the sequencer has yet to integrate")
    problem: str | None
    entry_id: int | None = Field(description="The first entry that does not match, if any")
    leaf_index: int | None
    witnessed: list[int] = Field(description="Sizes of checkpoints from the witness file "
                                             "(kept outside the database) checked too")
    seconds: float
    rows_per_second: float
