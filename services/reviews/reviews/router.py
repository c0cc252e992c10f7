"""/v1/reviews: the worklist, ad-hoc reviews, and moving a review to its decision."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Path, Query, Request

from services.reviews.reviews import service
from services.reviews.reviews.schemas import (
    AssignIn,
    DecisionIn,
    KindName,
    Note,
    NoteIn,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ReviewPageOut,
    StatusName,
    TierName,
)
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import INT64_MAX

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
ReviewId = Path(ge=1, le=INT64_MAX, description="the review's id")


@router.get("", operation_id="reviews-list", summary="The review worklist",
            description="Reviews in due-date order, filtered by any of: `status`, `kind`, "
                        "`tier` (in force when opened), `assignee`, `customer_id`, `due` "
                        "(open and due by today), `overdue` (open past the deadline), "
                        "`due_before`. Pass `next_cursor` as `cursor` for the next page.",
            response_model=ReviewPage, **secured("reviews:read", extra_errors=[400, 422]))
def list_reviews(status: StatusName | None = None, kind: KindName | None = None,
                 tier: TierName | None = None,
                 assignee: str | None = Query(None, min_length=1, max_length=200),
                 customer_id: str | None = Query(None, min_length=1, max_length=128),
                 due: bool | None = None, overdue: bool | None = None,
                 due_before: dt.date | None = None,
                 cursor: str | None = Query(None, max_length=200),
                 limit: int = Query(50, ge=1, le=500),
                 db: Database = DatabaseDep) -> ReviewPage:
    with db.read() as session:
        return service.list_reviews(session, status=status, kind=kind, tier=tier,
                                    assignee=assignee, customer_id=customer_id, due=due,
                                    overdue=overdue, due_before=due_before, cursor=cursor,
                                    limit=limit)


@router.post("", operation_id="reviews-create", summary="Open an ad-hoc review",
             description="Opens a review of one customer now (due today unless `due_on`). "
                         "A customer has at most one open review: 409 names the open one. "
                         "Unknown customer: 404. Audited.",
             response_model=ReviewOut, status_code=201,
             **secured("reviews:write", extra_errors=[404, 409, 422]))
def create_review(body: ReviewIn, request: Request, db: Database = DatabaseDep) -> ReviewOut:
    with db.transaction() as session:
        return service.create_adhoc(session, request=body,
                                    actor=current_principal(request).actor)


@router.get("/{review_id}", operation_id="reviews-get", summary="One review, on one page",
            description="The review with what the reviewer needs: the current risk and its "
                        "reasons, the background-check summary, open alerts (from the shared "
                        "schema), what changed since the last review (PD, tier, overdue "
                        "amount, new events by type) and the notes.",
            response_model=ReviewPageOut, **secured("reviews:read", extra_errors=[404, 422]))
def get_review(review_id: int = ReviewId, db: Database = DatabaseDep) -> ReviewPageOut:
    with db.read() as session:
        return service.review_page(session, review_id=review_id)


@router.post("/{review_id}/assign", operation_id="reviews-assign", summary="Assign a review",
             description="Sets who does the review. Only open reviews: 409 otherwise. "
                         "Audited.",
             response_model=ReviewOut, **secured("reviews:write", extra_errors=[404, 409, 422]))
def assign_review(body: AssignIn, request: Request, review_id: int = ReviewId,
                  db: Database = DatabaseDep) -> ReviewOut:
    with db.transaction() as session:
        return service.assign(session, review_id=review_id, assignee=body.assignee,
                              actor=current_principal(request).actor)


@router.post("/{review_id}/start", operation_id="reviews-start", summary="Start a review",
             description="open → in_progress (the caller becomes the assignee if none). "
                         "409 unless open. Audited.",
             response_model=ReviewOut, **secured("reviews:write", extra_errors=[404, 409, 422]))
def start_review(request: Request, review_id: int = ReviewId,
                 db: Database = DatabaseDep) -> ReviewOut:
    with db.transaction() as session:
        return service.start(session, review_id=review_id,
                             actor=current_principal(request).actor)


@router.post("/{review_id}/complete", operation_id="reviews-complete",
             summary="Complete a review with a decision",
             description="`confirm`; `override_tier` (`tier`, `expires_at`: the same override "
                         "scoring honours); `change_credit_limit` (`credit_limit`, `currency`: "
                         "a `credit_limit.changed` event and a rescore); `escalate` "
                         "(`escalate_to`: opens a follow-up review assigned to them); "
                         "`exit_relationship` (the credit line goes to 0). Every decision "
                         "has a `reason`, is snapshotted in the customer's risk file and "
                         "audited. 409 when the review is already completed.",
             response_model=ReviewOut, **secured("reviews:write", extra_errors=[404, 409, 422]))
def complete_review(body: DecisionIn, request: Request, review_id: int = ReviewId,
                    db: Database = DatabaseDep) -> ReviewOut:
    with db.transaction() as session:
        return service.complete(session, review_id=review_id, decision=body,
                                actor=current_principal(request).actor)


@router.post("/{review_id}/notes", operation_id="reviews-add-note", summary="Add a note",
             description="A note on the review, shown on its page, by the caller.",
             response_model=Note, status_code=201,
             **secured("reviews:write", extra_errors=[404, 422]))
def add_note(body: NoteIn, request: Request, review_id: int = ReviewId,
             db: Database = DatabaseDep) -> Note:
    with db.transaction() as session:
        return service.add_note(session, review_id=review_id, body=body.body,
                                actor=current_principal(request).actor)
