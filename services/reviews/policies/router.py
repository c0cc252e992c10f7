"""/v1/review-policies: the review cadence per tier and the SLA (versioned)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from services.reviews.policies import service
from services.reviews.policies.schemas import ReviewPolicyIn, ReviewPolicyOut
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database

router = APIRouter(prefix="/v1/review-policies", tags=["review-policies"])


@router.get("", operation_id="review-policies-get", summary="Review policy in force",
            description="Days between periodic reviews per tier, the SLA to complete a "
                        "review, and whether a worsened tier opens a review at once. "
                        "Version 0 is the built-in default (high 30, medium 90, low 365 "
                        "days; SLA 14 days).",
            response_model=ReviewPolicyOut, **secured("reviews:read"))
def get_policy(db: Database = DatabaseDep) -> ReviewPolicyOut:
    with db.read() as session:
        return service.get_policy(session)


@router.put("", operation_id="review-policies-put", summary="Set the review policy",
            description="Stores a new version (earlier versions are kept; every review names "
                        "the version that opened it). Audited.",
            response_model=ReviewPolicyOut, **secured("reviews:write", extra_errors=[422]))
def put_policy(body: ReviewPolicyIn, request: Request,
               db: Database = DatabaseDep) -> ReviewPolicyOut:
    with db.transaction() as session:
        return service.put_policy(session, policy=body, actor=current_principal(request).actor)


@router.get("/versions", operation_id="review-policies-versions",
            summary="Review policy history",
            description="Every version, newest first, ending with the built-in defaults.",
            response_model=list[ReviewPolicyOut], **secured("reviews:read", extra_errors=[422]))
def policy_versions(db: Database = DatabaseDep, limit: int = Query(50, ge=1, le=500),
                    offset: int = Query(0, ge=0, le=1_000_000)) -> list[ReviewPolicyOut]:
    with db.read() as session:
        return service.history(session, limit=limit, offset=offset)
