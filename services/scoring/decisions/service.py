"""Credit decisions: the tier's strategy applied to the stored current risk (no scoring on
the request path), every decision written to the audit log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio.to_thread

from services.scoring.decisions.schemas import CreditDecision, CreditRequest, Decision
from services.scoring.scores.service import explain_on_read, lookup_risk, needs_explaining
from services.scoring.tiers.schemas import Tier
from shared import audit
from shared.db import Database
from shared.errors import NotFound
from shared.group_commit import GroupCommit
from shared.models import utcnow

CENT = Decimal("0.01")


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


async def decide(db: Database, *, request: CreditRequest, actor: str,
                 audit_log: GroupCommit[audit.Fact, audit.Appended]) -> CreditDecision:
    """The decision on the risk as stored now, then its audit entry, committed before the
    answer. A refusal quotes the score's reasons, computed and kept first if the score has
    none yet.

    The read runs on the event loop, as GET /risk's does: one indexed statement on the hot
    path (shared/hotpath.py) that takes no lock costs less than a hop to a worker thread.
    What waits on the disk or the CPU goes to threads: reasons computed on first read, and
    the entry, whose commit is shared with the decisions that arrive with it (``audit_log``,
    :func:`shared.audit.appender`)."""
    now = utcnow()
    found = lookup_risk(db, request.customer_id, now=now)
    if not found.exists:
        raise NotFound(f"No customer {request.customer_id!r}.")
    view = found.view
    amount = request.amount.quantize(CENT)
    result: dict[str, Any] = {
        "customer_id": request.customer_id, "amount": amount, "currency": request.currency,
        "tier": None, "model_tier": None, "pd": None, "points": None, "credit_limit": None,
        "outstanding_balance": None, "available_limit": None, "approval_level": None,
        "strategy": None, "model_version": None, "scored_at": None, "decided_at": now,
    }
    reasons: list[str] = []
    if view is None:
        decision = Decision.REFER
        reasons.append("No risk score yet for this customer; refer to a credit analyst.")
    else:
        risk, tiering, override = view.risk, view.tiering, view.tiering.override
        strategy = tiering.strategy
        limit = None if risk.credit_limit is None else Decimal(risk.credit_limit)
        outstanding = Decimal(risk.outstanding_balance or 0).quantize(CENT)
        available = (None if limit is None else
                     max(limit * Decimal(str(strategy.credit_limit_factor)) - outstanding,
                         Decimal(0)).quantize(CENT))
        result.update(tier=tiering.tier, model_tier=tiering.model_tier,
                      pd=risk.pd_default, points=risk.points, credit_limit=limit,
                      outstanding_balance=outstanding, available_limit=available,
                      approval_level=strategy.approval_level, strategy=strategy,
                      model_version=risk.model_version, scored_at=risk.scored_at)
        if override is not None:
            reasons.append(f"Tier {override.tier} set by an analyst until "
                           f"{override.expires_at:%Y-%m-%d}: {override.reason}")
        if risk.in_default:
            decision = Decision.DECLINE
            reasons.append("The customer is in default.")
        elif strategy.new_credit_blocked:
            decision = Decision.DECLINE
            reasons.append(f"New credit is blocked for tier {tiering.tier}.")
        elif limit is None or risk.credit_currency is None:
            decision = Decision.REFER
            reasons.append("The customer has no credit limit on record.")
        elif risk.credit_currency != request.currency:
            decision = Decision.REFER
            reasons.append(f"The credit line is in {risk.credit_currency}, the request in "
                           f"{request.currency}; no currency conversion is assumed.")
        elif available is not None and amount > available:
            decision = Decision.REFER
            reasons.append(f"{_fmt(amount, request.currency)} exceeds the available limit of "
                           f"{_fmt(available, request.currency)} (limit "
                           f"{_fmt(limit, request.currency)} × {strategy.credit_limit_factor:g}"
                           f" for tier {tiering.tier} − outstanding "
                           f"{_fmt(outstanding, request.currency)}).")
        elif tiering.tier == Tier.HIGH:
            decision = Decision.REFER
            reasons.append(f"Tier high: credit needs approval by the "
                           f"{strategy.approval_level}.")
        else:
            decision = Decision.APPROVE
            reasons.append(f"Within the available limit of "
                           f"{_fmt(available or Decimal(0), request.currency)} "
                           f"for tier {tiering.tier}.")
    if view is not None and decision != Decision.APPROVE:
        if needs_explaining(view.risk):
            await anyio.to_thread.run_sync(explain_on_read, db, view.risk)  # once, then kept
        reasons.extend(r["text"] for r in (view.risk.reasons or [])[:2])
    entry = await audit_log.submit(audit.Fact(
        actor=actor, action="credit.decided", subject_type="customer",
        subject_id=request.customer_id,
        details={**{k: v for k, v in result.items() if k != "strategy"},
                 "decision": decision, "reasons": reasons}))
    return CreditDecision(decision_id=entry.id, decision=decision,
                          reasons=reasons, **result)
