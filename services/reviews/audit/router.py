"""Read and verify the tamper-evident audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shared import audit
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after_id: int | None


class VerificationOut(BaseModel):
    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str | None


@router.get("", summary="List audit entries", operation_id="audit-list",
            response_model=AuditPage, **secured("admin"))
def list_entries(
    db: Database = DatabaseDep,
    after_id: int = Query(0, ge=0, description="Return entries with a larger id"),
    limit: int = Query(100, ge=1, le=1000),
    subject_id: str | None = None,
    action: str | None = None,
) -> AuditPage:
    with db.transaction() as session:
        rows = audit.entries(session, after_id=after_id, limit=limit, subject_id=subject_id,
                             action=action)
        items = [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.get("/verify", summary="Verify the hash chain", operation_id="audit-verify",
            description="Walks the whole chain and names the first row that was altered.",
            response_model=VerificationOut, **secured("admin"))
def verify_chain(db: Database = DatabaseDep) -> VerificationOut:
    with db.transaction() as session:
        result = audit.verify(session)
    return VerificationOut(ok=result.ok, checked=result.checked,
                           first_broken_id=result.first_broken_id, reason=result.reason)
