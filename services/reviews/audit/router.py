"""Read and verify the tamper-evident audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.auth import secured
from shared.models import AuditEntry
from shared.service import SessionDep

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
    session: Session = SessionDep,
    after_id: int = Query(0, ge=0, description="Return entries with a larger id"),
    limit: int = Query(100, ge=1, le=1000),
    subject_id: str | None = None,
    action: str | None = None,
) -> AuditPage:
    query = select(AuditEntry).where(AuditEntry.id > after_id)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if action:
        query = query.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.id).limit(limit)).all()
    items = [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.get("/verify", summary="Verify the hash chain", operation_id="audit-verify",
            description="Walks the whole chain and names the first row that was altered.",
            response_model=VerificationOut, **secured("admin"))
def verify_chain(session: Session = SessionDep) -> VerificationOut:
    result = audit.verify(session)
    return VerificationOut(ok=result.ok, checked=result.checked,
                           first_broken_id=result.first_broken_id, reason=result.reason)
