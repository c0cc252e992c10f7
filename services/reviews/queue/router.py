"""Operators' view of the work queue: depth per topic, dead letters, and retrying them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from shared import audit, queue
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.errors import NotFound
from shared.validation import INT64_MAX, RowId

router = APIRouter(prefix="/v1/queue", tags=["queue"])


class WorkItemOut(BaseModel):
    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    status: queue.ItemStatus
    attempts: int
    last_error: str | None
    available_at: dt.datetime
    created_at: dt.datetime


class QueueDepth(BaseModel):
    topic: str
    status: queue.ItemStatus
    count: int


class RetryAccepted(BaseModel):
    id: int
    status: str = Field(description="pending: the item runs again")


@router.get("/depth", summary="Items per topic and status", operation_id="queue-depth",
            response_model=list[QueueDepth], **secured("admin"))
def depth(db: Database = DatabaseDep) -> list[QueueDepth]:
    with db.read() as session:
        return [QueueDepth(topic=d.topic, status=d.status, count=d.count)
                for d in queue.depth(session)]


@router.get("/dead-letters", summary="Dead-lettered work items",
            operation_id="queue-dead-letters", response_model=list[WorkItemOut],
            **secured("admin"))
def dead_letters(
    db: Database = DatabaseDep,
    topic: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=INT64_MAX),
) -> list[WorkItemOut]:
    with db.read() as session:
        items = queue.list_items(session, status=queue.ItemStatus.DEAD, topic=topic, limit=limit,
                                 offset=offset)
        return [WorkItemOut.model_validate(i, from_attributes=True) for i in items]


@router.post("/dead-letters/{item_id}/retry", summary="Retry a dead-lettered item",
             operation_id="queue-retry", status_code=202, response_model=RetryAccepted,
             **secured("admin", extra_errors=[404]))
def retry(item_id: RowId, request: Request, db: Database = DatabaseDep) -> RetryAccepted:
    with db.transaction() as session:
        if not queue.retry_dead(session, item_id):
            raise NotFound(f"No dead-lettered work item {item_id}.")
        audit.record(session, actor=current_principal(request).actor, action="queue.retry",
                     subject_type="work_item", subject_id=str(item_id))
    return RetryAccepted(id=item_id, status=queue.ItemStatus.PENDING)


