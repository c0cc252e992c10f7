"""/v1/customers/{customer_id}/profile-history: the customer's risk file over time."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from services.reviews.history import service
from services.reviews.history.schemas import SnapshotPage
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database

router = APIRouter(prefix="/v1/customers", tags=["profile-history"])


@router.get("/{customer_id}/profile-history", operation_id="profile-history-list",
            summary="The customer's risk file",
            description="A snapshot at every completed review and every tier change: PD, "
                        "points, tier, key features, reasons, the decision and who made it. "
                        "Newest first; pass `next_cursor` as `cursor` for older pages. "
                        "Unknown customer: 404.",
            response_model=SnapshotPage,
            **secured("reviews:read", extra_errors=[400, 404, 422]))
def profile_history(customer_id: str = Path(min_length=1, max_length=128),
                    cursor: str | None = Query(None, max_length=200),
                    limit: int = Query(50, ge=1, le=500),
                    db: Database = DatabaseDep) -> SnapshotPage:
    with db.read() as session:
        return service.profile_history(session, customer_id=customer_id, cursor=cursor,
                                       limit=limit)
