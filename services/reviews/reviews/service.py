"""The review desk: the worklist, ad-hoc reviews, assigning, starting, completing with a
decision (each decision written where the rest of riskwatch honours it, snapshotted in the
risk file and audited), notes, and the one-page view of a review."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from services.reviews.history import repository as history_repository
from services.reviews.history import service as history
from services.reviews.policies.service import current_policy
from services.reviews.portfolio import open_alerts, overrides_in_force, risks
from services.reviews.reviews import repository
from services.reviews.reviews.schemas import (
    BackgroundSummary,
    Change,
    ChangesSinceLastReview,
    CurrentRisk,
    DecisionIn,
    Note,
    ReviewDecision,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ReviewPageOut,
    ReviewStatus,
)
from shared import audit, pagination, queue
from shared.errors import Conflict, NotFound
from shared.event_types import project, validate_data
from shared.models import utcnow
from shared.models.reviews import OPEN_STATUSES, Review
from shared.models.scoring import CustomerRisk, TierOverride
from shared.overrides import set_tier_override
from shared.topics import ALERTS_EVENT, SCORING_RESCORE, has_consumer

EVENT_SOURCE = "riskwatch/reviews"


# --- reading ------------------------------------------------------------------------------

def review_out(row: Review, *, today: dt.date | None = None) -> ReviewOut:
    today = today or utcnow().date()
    overdue = row.status in OPEN_STATUSES and (row.overdue_at is not None
                                               or row.deadline_on < today)
    return ReviewOut.model_validate({**{c: getattr(row, c) for c in ReviewOut.model_fields
                                        if c != "overdue"}, "overdue": overdue})


def list_reviews(session: Session, *, status: str | None, kind: str | None,
                 tier: str | None, assignee: str | None, customer_id: str | None,
                 due: bool | None, overdue: bool | None, due_before: dt.date | None,
                 cursor: str | None, limit: int) -> ReviewPage:
    today = utcnow().date()
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(Review.status == status)
    if kind:
        where.append(Review.kind == kind)
    if tier:
        where.append(Review.tier == tier)
    if assignee:
        where.append(Review.assignee == assignee)
    if customer_id:
        where.append(Review.customer_id == customer_id)
    still_open = Review.status.in_(OPEN_STATUSES)
    if due is not None:
        is_due = still_open & (Review.due_on <= today)
        where.append(is_due if due else ~is_due)
    if overdue is not None:
        late = still_open & (Review.overdue_at.is_not(None) | (Review.deadline_on < today))
        where.append(late if overdue else ~late)
    if due_before:
        where.append(Review.due_on <= due_before)
    after = None
    if cursor:
        due_iso, review_id = pagination.decode(cursor, types=(str, int))
        try:
            after = (dt.date.fromisoformat(due_iso), review_id)
        except ValueError as exc:
            raise pagination.InvalidCursor("The cursor is not one this API gave out.") \
                from exc
    rows = repository.page(session, where=where, after=after, limit=limit + 1)
    items = [review_out(row, today=today) for row in rows[:limit]]
    next_cursor = (pagination.encode(items[-1].due_on.isoformat(), items[-1].id)
                   if len(rows) > limit else None)
    return ReviewPage(items=items, next_cursor=next_cursor)


def _current_risk(risk: CustomerRisk | None, override: TierOverride | None
                  ) -> CurrentRisk | None:
    if risk is None:
        return None
    return CurrentRisk(
        pd=risk.pd_default, points=risk.points,
        tier=override.tier if override is not None else risk.tier, model_tier=risk.tier,
        override=None if override is None else {
            "tier": override.tier, "reason": override.reason,
            "expires_at": override.expires_at.isoformat(), "created_by": override.created_by},
        reasons=list(risk.reasons or []), outstanding_balance=risk.outstanding_balance,
        overdue_amount=risk.overdue_amount, credit_limit=risk.credit_limit,
        credit_currency=risk.credit_currency, in_default=risk.in_default,
        model_version=risk.model_version, scored_at=risk.scored_at)


def review_page(session: Session, *, review_id: int) -> ReviewPageOut:
    row = _review(session, review_id)
    now = utcnow()
    customer = repository.customer(session, row.customer_id)
    assert customer is not None  # reviews cascade with their customer
    risk = risks(session, [row.customer_id]).get(row.customer_id)
    override = overrides_in_force(session, [row.customer_id], now).get(row.customer_id)
    current = _current_risk(risk, override)
    last = history_repository.last_review_snapshot(session, row.customer_id,
                                                   before_review_id=row.id)
    since = last.taken_at if last is not None else None
    changes = ChangesSinceLastReview(
        last_review_id=last.review_id if last is not None else None, since=since,
        pd=Change(before=last.pd if last else None, now=current.pd if current else None),
        tier=Change(before=last.tier if last else None, now=current.tier if current else None),
        overdue_amount=Change(before=last.overdue_amount if last else None,
                              now=current.overdue_amount if current else None),
        new_events_by_type=repository.events_by_type(session, row.customer_id, since))
    background = BackgroundSummary(
        name=customer.name, legal_name=customer.legal_name, industry=customer.industry,
        country=customer.country, founded_on=customer.founded_on,
        employees=customer.employees, annual_revenue=customer.annual_revenue,
        revenue_currency=customer.revenue_currency, credit_limit=customer.credit_limit,
        credit_currency=customer.credit_currency, owner=customer.owner,
        customer_since=customer.created_at,
        events_by_type=repository.events_by_type(session, row.customer_id, None),
        last_event_at=repository.last_event_at(session, row.customer_id))
    return ReviewPageOut(
        review=review_out(row, today=now.date()), customer=background, risk=current,
        open_alerts=open_alerts(session, row.customer_id),
        changes_since_last_review=changes,
        notes=[Note.model_validate(n, from_attributes=True)
               for n in repository.notes(session, row.id)])


def _review(session: Session, review_id: int, *, lock: bool = False) -> Review:
    row = repository.get(session, review_id, lock=lock)
    if row is None:
        raise NotFound(f"No review {review_id}.")
    return row


def _still_open(row: Review) -> None:
    if row.status not in OPEN_STATUSES:
        raise Conflict(f"Review {row.id} is {row.status}; only open reviews change.",
                       review_status=row.status)


# --- opening and moving along ---------------------------------------------------------------

def open_review(session: Session, *, customer_id: str, kind: str, reason: str, actor: str,
                assignee: str | None = None, due_on: dt.date | None = None) -> Review:
    """Open a review now; 409 (naming it) when the customer already has an open one."""
    if repository.customer(session, customer_id) is None:
        raise NotFound(f"No customer {customer_id!r}.")
    now = utcnow()
    policy = current_policy(session)
    risk = risks(session, [customer_id]).get(customer_id)
    override = overrides_in_force(session, [customer_id], now).get(customer_id)
    due_on = due_on or now.date()
    ids = repository.insert_reviews(session, [{
        "customer_id": customer_id, "kind": kind, "status": "open", "reason": reason,
        "tier": override.tier if override else (risk.tier if risk else None),
        "pd": risk.pd_default if risk else None, "due_on": due_on,
        "deadline_on": due_on + dt.timedelta(days=policy.sla_days), "schedule_key": None,
        "policy_version": policy.version, "assignee": assignee, "opened_by": actor,
        "opened_at": now, "decision_details": {}}])
    if not ids:
        existing = repository.open_review_of(session, customer_id)
        raise Conflict(f"Customer {customer_id!r} already has an open review.",
                       review_id=existing.id if existing else None)
    row = _review(session, ids[0])
    audit.record(session, actor=actor, action="review.opened", subject_type="review",
                 subject_id=str(row.id), details={"customer_id": customer_id, "kind": kind,
                                                  "reason": reason, "assignee": assignee})
    return row


def create_adhoc(session: Session, *, request: ReviewIn, actor: str) -> ReviewOut:
    row = open_review(session, customer_id=request.customer_id, kind="adhoc",
                      reason=request.reason, actor=actor, assignee=request.assignee,
                      due_on=request.due_on)
    return review_out(row)


def assign(session: Session, *, review_id: int, assignee: str, actor: str) -> ReviewOut:
    row = _review(session, review_id, lock=True)
    _still_open(row)
    previous, row.assignee = row.assignee, assignee
    session.flush()
    audit.record(session, actor=actor, action="review.assigned", subject_type="review",
                 subject_id=str(row.id), details={"customer_id": row.customer_id,
                                                  "assignee": assignee, "previous": previous})
    return review_out(row)


def start(session: Session, *, review_id: int, actor: str) -> ReviewOut:
    row = _review(session, review_id, lock=True)
    if row.status != ReviewStatus.OPEN:
        raise Conflict(f"Review {row.id} is {row.status}; only an open review starts.",
                       review_status=row.status)
    row.status = ReviewStatus.IN_PROGRESS
    row.started_at = utcnow()
    row.assignee = row.assignee or actor
    session.flush()
    audit.record(session, actor=actor, action="review.started", subject_type="review",
                 subject_id=str(row.id), details={"customer_id": row.customer_id})
    return review_out(row)


def add_note(session: Session, *, review_id: int, body: str, actor: str) -> Note:
    row = _review(session, review_id)
    note = repository.add_note(session, review_id=row.id, author=actor, body=body,
                               now=utcnow())
    return Note.model_validate(note, from_attributes=True)


# --- decisions ----------------------------------------------------------------------------

def complete(session: Session, *, review_id: int, decision: DecisionIn,
             actor: str) -> ReviewOut:
    """Close the review with its decision, apply the decision, snapshot the risk file and
    audit it, all in the caller's transaction."""
    row = _review(session, review_id, lock=True)
    _still_open(row)
    now = utcnow()
    details = _apply(session, row, decision, actor=actor, now=now)
    row.status = ReviewStatus.COMPLETED
    row.completed_at = now
    row.completed_by = actor
    row.decision = decision.decision
    row.decision_reason = decision.reason
    row.decision_details = details
    session.flush()
    risk = risks(session, [row.customer_id]).get(row.customer_id)
    override = overrides_in_force(session, [row.customer_id], now).get(row.customer_id)
    tier = override.tier if override else (risk.tier if risk else None)
    history.record(session, [history.snapshot_row(
        customer_id=row.customer_id, cause="review", dedupe_key=f"review:{row.id}",
        taken_at=now, risk=risk, tier=tier, previous_tier=row.tier, review_id=row.id,
        decision=decision.decision, decided_by=actor,
        details={"reason": decision.reason, **details})])
    audit.record(session, actor=actor, action="review.completed", subject_type="review",
                 subject_id=str(row.id),
                 details={"customer_id": row.customer_id, "kind": row.kind,
                          "decision": decision.decision, "reason": decision.reason,
                          **details})
    return review_out(row)


def _apply(session: Session, row: Review, decision: DecisionIn, *, actor: str,
           now: dt.datetime) -> dict[str, Any]:
    """Carry the decision out; returns what was done, for the review and the audit log."""
    match decision.decision:
        case ReviewDecision.OVERRIDE_TIER:
            assert decision.tier is not None and decision.expires_at is not None
            override = set_tier_override(
                session, customer_id=row.customer_id, tier=decision.tier,
                reason=f"review {row.id}: {decision.reason}", expires_at=decision.expires_at,
                actor=actor, now=now)
            return {"tier": override.tier, "expires_at": override.expires_at.isoformat(),
                    "override_id": override.id}
        case ReviewDecision.CHANGE_CREDIT_LIMIT:
            assert decision.credit_limit is not None and decision.currency is not None
            return _change_credit_limit(session, row, decision.credit_limit,
                                        decision.currency, now=now)
        case ReviewDecision.EXIT_RELATIONSHIP:
            # Exiting ends new credit: the credit line goes to zero in its currency.
            risk = risks(session, [row.customer_id]).get(row.customer_id)
            customer = repository.customer(session, row.customer_id)
            currency = (risk.credit_currency if risk and risk.credit_currency
                        else customer.credit_currency if customer else None)
            if currency is None:
                return {"credit_limit": None, "note": "no credit line on record"}
            return _change_credit_limit(session, row, Decimal("0.00"), currency, now=now)
        case ReviewDecision.ESCALATE:
            assert decision.escalate_to is not None
            # The follow-up opens once this review is closed (one open review per customer).
            row.status = ReviewStatus.COMPLETED
            session.flush()
            follow_up = open_review(
                session, customer_id=row.customer_id, kind="adhoc", actor=actor,
                reason=f"escalated from review {row.id}: {decision.reason}",
                assignee=decision.escalate_to)
            return {"escalated_to": decision.escalate_to, "follow_up_review_id": follow_up.id}
    return {}


def _change_credit_limit(session: Session, row: Review, limit: Decimal, currency: str, *,
                         now: dt.datetime) -> dict[str, Any]:
    """The credit line changes the way a CRM changes it: a ``credit_limit.changed`` event
    (the latest one is the line scoring and credit decisions use, over the profile's),
    then a rescore of the customer, in this transaction."""
    data = {"credit_limit": str(limit), "currency": currency, "review_id": row.id}
    event_pk = repository.insert_event(session, {
        "source": EVENT_SOURCE, "event_id": f"review-{row.id}-credit-limit",
        "type": "credit_limit.changed", "customer_id": row.customer_id, "occurred_at": now,
        "received_at": now, "data": data, "attributes": {"specversion": "1.0"},
        **project("credit_limit.changed", validate_data("credit_limit.changed", data))})
    queue.enqueue(session, topic=SCORING_RESCORE, key=row.customer_id,
                  payload={"trigger": "review"}, coalesce=True)
    if event_pk is not None and has_consumer(ALERTS_EVENT):
        queue.enqueue(session, topic=ALERTS_EVENT, key=row.customer_id,
                      payload={"event_pk": event_pk, "type": "credit_limit.changed"})
    return {"credit_limit": str(limit), "currency": currency, "event_id": event_pk}
