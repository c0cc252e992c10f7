"""Reviews as the API shows them: the worklist, the one-page review, and the requests that
move a review along (assign, start, complete with a decision, notes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.validation import SafeModel

TierName = Literal["low", "medium", "high"]
Person = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=2000)]


class ReviewKind(StrEnum):
    PERIODIC = "periodic"
    TRIGGERED = "triggered"
    ADHOC = "adhoc"


class ReviewStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ReviewDecision(StrEnum):
    CONFIRM = "confirm"
    OVERRIDE_TIER = "override_tier"
    CHANGE_CREDIT_LIMIT = "change_credit_limit"
    ESCALATE = "escalate"
    EXIT_RELATIONSHIP = "exit_relationship"


KindName = Literal[ReviewKind.PERIODIC, ReviewKind.TRIGGERED, ReviewKind.ADHOC]
StatusName = Literal[ReviewStatus.OPEN, ReviewStatus.IN_PROGRESS, ReviewStatus.COMPLETED]
DecisionName = Literal[ReviewDecision.CONFIRM, ReviewDecision.OVERRIDE_TIER,
                       ReviewDecision.CHANGE_CREDIT_LIMIT, ReviewDecision.ESCALATE,
                       ReviewDecision.EXIT_RELATIONSHIP]


class ReviewIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "sim-000042", "reason": "Lost its largest customer (press)",
        "assignee": "j.doe", "due_on": "2026-12-15"}]})

    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reason: Reason
    assignee: Person | None = None
    due_on: dt.date | None = Field(None, description="default: today")


class AssignIn(SafeModel):
    assignee: Person


class NoteIn(SafeModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class DecisionIn(SafeModel):
    """The outcome of a review. ``override_tier`` needs ``tier`` and ``expires_at``;
    ``change_credit_limit`` needs ``credit_limit`` and ``currency``; ``escalate`` needs
    ``escalate_to`` (who gets the follow-up review)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"decision": "confirm", "reason": "Payments back on time since October"},
        {"decision": "override_tier", "reason": "Awaiting audited accounts", "tier": "high",
         "expires_at": "2027-03-31T00:00:00Z"},
        {"decision": "change_credit_limit", "reason": "Volume doubled, pays on time",
         "credit_limit": "80000.00", "currency": "EUR"},
    ]})

    decision: DecisionName
    reason: Reason
    tier: TierName | None = None
    expires_at: dt.datetime | None = None
    credit_limit: Decimal | None = Field(None, ge=0, max_digits=20, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    escalate_to: Person | None = None

    @model_validator(mode="after")
    def _what_the_decision_needs(self) -> DecisionIn:
        needs: dict[str, tuple[str, ...]] = {
            ReviewDecision.OVERRIDE_TIER: ("tier", "expires_at"),
            ReviewDecision.CHANGE_CREDIT_LIMIT: ("credit_limit", "currency"),
            ReviewDecision.ESCALATE: ("escalate_to",),
        }
        missing = [f for f in needs.get(self.decision, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"decision {self.decision} needs {', '.join(missing)}")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a timezone (UTC)")
        return self


class Note(BaseModel):
    id: int
    author: str
    body: str
    created_at: dt.datetime


class ReviewOut(BaseModel):
    id: int
    customer_id: str
    kind: KindName
    status: StatusName
    reason: str
    tier: str | None = Field(description="tier in force when the review was opened")
    pd: float | None
    due_on: dt.date
    deadline_on: dt.date = Field(description="due date + the policy's SLA")
    overdue: bool
    policy_version: int
    assignee: str | None
    opened_by: str
    opened_at: dt.datetime
    started_at: dt.datetime | None
    overdue_at: dt.datetime | None
    completed_at: dt.datetime | None
    completed_by: str | None
    decision: DecisionName | None
    decision_reason: str | None
    decision_details: dict[str, Any]


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class CurrentRisk(BaseModel):
    pd: float
    points: int
    tier: str = Field(description="tier in force (an override's, else the model's)")
    model_tier: str
    override: dict[str, Any] | None
    reasons: list[dict[str, Any]]
    outstanding_balance: Decimal
    overdue_amount: Decimal
    credit_limit: Decimal | None
    credit_currency: str | None
    in_default: bool
    model_version: str
    scored_at: dt.datetime


class BackgroundSummary(BaseModel):
    name: str | None
    legal_name: str | None
    industry: str | None
    country: str | None
    founded_on: dt.date | None
    employees: int | None
    annual_revenue: Decimal | None
    revenue_currency: str | None
    credit_limit: Decimal | None = Field(description="on the profile; a later "
                                         "credit_limit.changed event takes precedence")
    credit_currency: str | None
    owner: str | None
    customer_since: dt.datetime
    events_by_type: dict[str, int]
    last_event_at: dt.datetime | None


class Change(BaseModel):
    before: Any
    now: Any


class ChangesSinceLastReview(BaseModel):
    last_review_id: int | None
    since: dt.datetime | None = Field(description="when the last review was completed; "
                                      "null: never reviewed (events counted over all time)")
    pd: Change
    tier: Change
    overdue_amount: Change
    new_events_by_type: dict[str, int]


class ReviewPageOut(BaseModel):
    """Everything a reviewer needs, on one page."""

    review: ReviewOut
    customer: BackgroundSummary
    risk: CurrentRisk | None = Field(description="null until the customer is scored")
    open_alerts: list[dict[str, Any]] = Field(
        description="the customer's open alerts from the shared schema; empty while the "
                    "alerts tables do not exist")
    changes_since_last_review: ChangesSinceLastReview
    notes: list[Note]
