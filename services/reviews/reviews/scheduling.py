"""Reviews the system opens: periodic ones that fall due (the nightly pass), triggered ones
when a tier worsens (``reviews.score_changed`` work from scoring), and overdue marking.

Safe with several worker replicas without electing one: a periodic review carries the key
``periodic:<customer>:<due date>`` and a triggered one ``triggered:<customer>:<scored at>``
(unique), and a customer has at most one open review (a partial unique index); every insert
skips a row that would break either, so a repeat, by a replica or a redelivery, adds nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.reviews.history import service as history
from services.reviews.policies.service import Policy, current_policy, worsened
from services.reviews.portfolio import risks
from services.reviews.reviews import repository
from services.reviews.settings import get_reviews_settings
from shared import audit
from shared.models import utcnow

SCHEDULER = "riskwatch scheduler"
log = logging.getLogger("riskwatch.reviews")


@dataclass(frozen=True)
class DuePass:
    candidates: int
    opened: int


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def open_due_reviews(session: Session, *, now: dt.datetime | None = None) -> DuePass:
    """Open a periodic review for every customer whose cadence has run out (flush only)."""
    now = now or utcnow()
    policy = current_policy(session)
    cutoffs = {tier: now - dt.timedelta(days=policy.cadence_for(tier))
               for tier in ("low", "medium", "high")}
    rows: list[dict[str, Any]] = []
    for customer_id, anchor, tier, pd in repository.due_candidates(session, cutoffs=cutoffs,
                                                                   now=now):
        days = policy.cadence_for(tier)
        due_on = anchor.date() + dt.timedelta(days=days)
        rows.append({
            "customer_id": customer_id, "kind": "periodic", "status": "open",
            "reason": f"periodic review (tier {tier or 'unscored'}, every {days} days)",
            "tier": tier, "pd": pd, "due_on": due_on,
            "deadline_on": due_on + dt.timedelta(days=policy.sla_days),
            "schedule_key": f"periodic:{customer_id}:{due_on.isoformat()}",
            "policy_version": policy.version, "opened_by": SCHEDULER, "opened_at": now,
            "decision_details": {},
        })
    opened = 0
    for chunk in _chunks(rows, get_reviews_settings().due_pass_batch_size):
        opened += _open(session, chunk)
    return DuePass(candidates=len(rows), opened=opened)


def _open(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the reviews that are still to open and audit each one opened, as a person's
    review is (``review.opened``). Returns how many opened."""
    opened = repository.insert_scheduled_reviews(session, rows)
    by_key = {row["schedule_key"]: row for row in rows}
    audit.record_many(session, [
        audit.Fact(actor=SCHEDULER, action="review.opened", subject_type="review",
                   subject_id=str(review_id),
                   details={"customer_id": by_key[key]["customer_id"],
                            "kind": by_key[key]["kind"], "reason": by_key[key]["reason"],
                            "assignee": None})
        for review_id, key in opened])
    return len(opened)


def mark_overdue(session: Session, *, now: dt.datetime | None = None) -> int:
    """Flag reviews still open after their deadline (idempotent)."""
    now = now or utcnow()
    return repository.mark_overdue(session, today=now.date(), now=now)


def on_score_changed(session: Session, payloads: Sequence[dict[str, Any]], *,
                     now: dt.datetime | None = None, policy: Policy | None = None) -> int:
    """Handle scoring's score-changed notices (a batch): a snapshot in the risk file for
    each tier change, and a triggered review for each tier that worsened, unless the
    customer already has an open review. Returns how many reviews were opened."""
    now = now or utcnow()
    policy = policy or current_policy(session)
    changes = [p for p in payloads if p.get("tier") and p.get("tier") != p.get("previous_tier")]
    if not changes:
        return 0
    stored = risks(session, [p["customer_id"] for p in changes])
    snapshots: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for p in changes:
        customer_id, tier, previous = p["customer_id"], p["tier"], p.get("previous_tier")
        scored_at = str(p.get("scored_at") or now.isoformat())
        snapshots.append(history.snapshot_row(
            customer_id=customer_id, cause="tier_change", taken_at=now,
            dedupe_key=f"tier:{customer_id}:{scored_at}", risk=stored.get(customer_id),
            tier=tier, pd=p.get("pd"), points=p.get("points"), previous_tier=previous,
            decided_by=f"scoring ({p.get('trigger') or 'event'})",
            details={"model_version": p.get("model_version"), "scored_at": scored_at,
                     "previous_pd": p.get("previous_pd")}))
        if policy.open_on_worsened_tier and worsened(previous, tier):
            today = now.date()
            reviews.append({
                "customer_id": customer_id, "kind": "triggered", "status": "open",
                "reason": f"tier worsened: {previous or 'unscored'} -> {tier}",
                "tier": tier, "pd": p.get("pd"), "due_on": today,
                "deadline_on": today + dt.timedelta(days=policy.sla_days),
                "schedule_key": f"triggered:{customer_id}:{scored_at}",
                "policy_version": policy.version, "opened_by": SCHEDULER, "opened_at": now,
                "decision_details": {},
            })
    history.record(session, snapshots)
    # One open review per customer: a batch naming a customer twice opens one review.
    unique = list({row["customer_id"]: row for row in reversed(reviews)}.values())
    return _open(session, unique)
