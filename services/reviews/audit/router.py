"""The verifiable audit log: entries, signed checkpoints, proofs, verification, export."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from services.reviews.audit.schemas import (
    AuditEntryOut,
    AuditPage,
    CheckpointOut,
    ConsistencyOut,
    InclusionOut,
    PublicKeyOut,
    VerificationOut,
)
from shared import audit
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.errors import BadRequest, Conflict, NotFound
from shared.transparency import log as tlog
from shared.transparency.settings import get_audit_settings, get_signer

router = APIRouter(prefix="/v1/audit", tags=["audit"])
SCOPE = "audit:read"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.get("", summary="List audit entries", operation_id="audit-list",
            description="Entries in id order, filtered by subject, actor, action and time; "
                        "page with `after_id` = the previous page's `next_after_id`.",
            response_model=AuditPage, **secured(SCOPE))
def list_entries(
    db: Database = DatabaseDep,
    after_id: int = Query(0, ge=0, description="Return entries with a larger id"),
    limit: int = Query(100, ge=1, le=1000),
    subject_id: str | None = None,
    subject_type: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = Query(None, description="occurred at or after (ISO 8601)"),
    until: dt.datetime | None = Query(None, description="occurred before (ISO 8601)"),
) -> AuditPage:
    with db.read() as session:
        rows = audit.entries(session, after_id=after_id, limit=limit, subject_id=subject_id,
                             subject_type=subject_type, actor=actor, action=action,
                             since=since, until=until)
        items = [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.get("/checkpoint", summary="The latest signed checkpoint",
            operation_id="audit-checkpoint",
            description="The tree head the sequencer signed last, as a C2SP signed note.",
            response_model=CheckpointOut, **secured(SCOPE, extra_errors=[404]))
def latest_checkpoint(db: Database = DatabaseDep) -> CheckpointOut:
    with db.read() as session:
        latest = tlog.latest_checkpoint(session)
    if latest is None:
        raise NotFound("No checkpoint yet: the sequencer has not integrated any entry.")
    return CheckpointOut(origin=get_audit_settings().origin, tree_size=latest.tree_size,
                         root_hash=_b64(latest.root_hash), created_at=latest.created_at,
                         note=latest.note)


@router.get("/public-key", summary="The key that signs checkpoints",
            operation_id="audit-public-key", response_model=PublicKeyOut, **secured(SCOPE))
def public_key() -> PublicKeyOut:
    verifier = get_signer().verifier
    return PublicKeyOut(origin=get_audit_settings().origin, verifier_key=verifier.vkey,
                        public_key=_b64(verifier.public_key))


def _inclusion(db: Database, *, entry_id: int | None = None, leaf_index: int | None = None,
               tree_size: int | None) -> InclusionOut:
    try:
        with db.read() as session:
            proof = tlog.inclusion(session, entry_id=entry_id, leaf_index=leaf_index,
                                   tree_size=tree_size)
    except tlog.NotSequenced as exc:
        raise Conflict(str(exc)) from exc
    except LookupError as exc:
        raise NotFound(str(exc)) from exc
    return InclusionOut(entry_id=proof.entry_id, leaf_index=proof.leaf_index,
                        tree_size=proof.tree_size, leaf_hash=_b64(proof.leaf_hash),
                        root_hash=_b64(proof.root_hash), proof=[_b64(h) for h in proof.proof],
                        checkpoint=proof.checkpoint)


TREE_SIZE = Query(None, ge=1, description="Default: the latest checkpoint's size")


@router.get("/entries/{entry_id}/inclusion", summary="Inclusion proof of an entry",
            operation_id="audit-entry-inclusion",
            description="RFC 9162 §2.1.3 audit path of the entry in the tree of `tree_size` "
                        "leaves. 409 while the entry is not sequenced yet.",
            response_model=InclusionOut, **secured(SCOPE, extra_errors=[404, 409]))
def entry_inclusion(entry_id: int = Path(ge=1), tree_size: int | None = TREE_SIZE,
                    db: Database = DatabaseDep) -> InclusionOut:
    return _inclusion(db, entry_id=entry_id, tree_size=tree_size)


@router.get("/leaves/{leaf_index}/inclusion", summary="Inclusion proof of a leaf",
            operation_id="audit-leaf-inclusion",
            description="As for an entry, by its leaf index in the tree.",
            response_model=InclusionOut, **secured(SCOPE, extra_errors=[404, 409]))
def leaf_inclusion(leaf_index: int = Path(ge=0), tree_size: int | None = TREE_SIZE,
                   db: Database = DatabaseDep) -> InclusionOut:
    return _inclusion(db, leaf_index=leaf_index, tree_size=tree_size)


@router.get("/consistency", summary="Consistency proof between two tree sizes",
            operation_id="audit-consistency",
            description="RFC 9162 §2.1.4: proves the tree of `to` leaves extends the tree of "
                        "`from` leaves, so an old checkpoint you kept vouches for the new one.",
            response_model=ConsistencyOut, **secured(SCOPE, extra_errors=[409]))
def consistency(
    from_size: int = Query(alias="from", ge=0),
    to_size: int | None = Query(None, alias="to", ge=0,
                                description="Default: the latest checkpoint's size"),
    db: Database = DatabaseDep,
) -> ConsistencyOut:
    try:
        with db.read() as session:
            proof = tlog.consistency(session, old_size=from_size, new_size=to_size)
    except tlog.NotSequenced as exc:
        raise Conflict(str(exc)) from exc
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    return ConsistencyOut(from_size=proof.old_size, to_size=proof.new_size,
                          from_root=_b64(proof.old_root), to_root=_b64(proof.new_root),
                          proof=[_b64(h) for h in proof.proof])


@router.get("/verify", summary="Verify the whole log", operation_id="audit-verify",
            description="Recomputes the tree from the stored entries and compares it with "
                        "every stored checkpoint (signatures checked) and the witness file's: "
                        "names the first entry that does not match, a missing leaf, or a "
                        "tree smaller than a checkpoint already issued (truncation).",
            response_model=VerificationOut, **secured(SCOPE))
def verify_log(db: Database = DatabaseDep) -> VerificationOut:
    settings = get_audit_settings()
    witnessed = settings.witness_file
    trusted = [witnessed.read_text()] if witnessed and witnessed.exists() else []
    with db.read() as session:
        result = tlog.verify(session, get_signer().verifier, origin=settings.origin,
                             trusted=trusted)
    return VerificationOut(
        ok=result.ok, entries=result.entries, checkpoints=result.checkpoints,
        tree_size=result.tree_size, unsequenced=result.unsequenced, problem=result.problem,
        entry_id=result.entry_id, leaf_index=result.leaf_index, witnessed=result.trusted,
        seconds=round(result.seconds, 3), rows_per_second=round(result.rows_per_second))


@router.get("/export", summary="Export entries with their proofs (NDJSON)",
            operation_id="audit-export",
            description="The latest signed checkpoint, then each entry of leaves [from, to) "
                        "(of one subject, if given) with its exact leaf bytes and inclusion "
                        "proof, then a closing line. `since`: the size of a checkpoint the "
                        "reader holds, for a consistency proof. At most "
                        f"{tlog.EXPORT_MAX_ENTRIES:,} entries per export. Check it offline "
                        "with `riskwatch audit verify-export FILE --public-key KEY`.",
            response_class=StreamingResponse,
            **secured(SCOPE, responses={200: {"content": {"application/x-ndjson": {}}}}))
def export(
    from_index: int = Query(0, alias="from", ge=0, description="First leaf index"),
    to_index: int | None = Query(None, alias="to", ge=0,
                                 description="Leaf index after the last (default: all)"),
    subject_id: str | None = None,
    since: int | None = Query(None, ge=0, description="Tree size of a checkpoint you hold"),
    db: Database = DatabaseDep,
) -> StreamingResponse:
    verifier = get_signer().verifier

    def lines() -> Iterator[str]:
        with db.read() as session:
            yield from tlog.export(session, start=from_index, end=to_index,
                                   subject_id=subject_id, since_size=since, verifier=verifier)

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers={
        "Content-Disposition": 'attachment; filename="riskwatch-audit-export.ndjson"'})
