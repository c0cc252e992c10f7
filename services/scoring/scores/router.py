"""/v1/customers/{customer_id}/risk and /scores: the current risk and its history."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from services.scoring.scores import service
from services.scoring.scores.schemas import RiskOut, ScoreOut, ScorePage
from services.scoring.tiers import repository as tier_repository
from services.scoring.tiers.service import current_policy, effective_tier
from shared.auth import secured
from shared.errors import NotFound
from shared.models import utcnow
from shared.service import SessionDep

router = APIRouter(prefix="/v1/customers", tags=["risk"])


class NotScored(NotFound):
    code, title = "not-scored", "Customer not scored yet"


@router.get("/{customer_id}/risk", operation_id="risk-get",
            summary="A customer's current risk, explained",
            description="Default and churn PD, points, tier (with any override in force) and "
                        "its strategy, the top reasons in words, the model and feature-set "
                        "versions and when it was scored. 404 for an unknown customer, "
                        "404 `not-scored` for one the worker has not scored yet.",
            response_model=RiskOut, **secured("risk:read", extra_errors=[404]))
def get_risk(customer_id: str, session: Session = SessionDep,
             include: Literal["features"] | None = Query(
                 None, description="`features` adds the feature values")) -> RiskOut:
    risk = service.current_risk(session, customer_id)
    if risk is None:
        if not service.customer_exists(session, customer_id):
            raise NotFound(f"No customer {customer_id!r}.")
        raise NotScored(f"Customer {customer_id!r} has not been scored yet.")
    override = tier_repository.overrides_in_force(session, [customer_id], utcnow()).get(
        customer_id)
    tiering = effective_tier(current_policy(session), risk.pd_default, override)
    return RiskOut(
        customer_id=customer_id, pd_default=risk.pd_default, pd_churn=risk.pd_churn,
        points=risk.points, tier=tiering["tier"], model_tier=tiering["model_tier"],
        override=tiering["override"], strategy=tiering["strategy"], reasons=risk.reasons,
        churn_reasons=risk.churn_reasons, model_version=risk.model_version,
        churn_model_version=risk.churn_model_version, feature_set=risk.feature_set,
        feature_set_version=risk.feature_set_version,
        tier_config_version=tiering["tier_config_version"],
        outstanding_balance=risk.outstanding_balance, overdue_amount=risk.overdue_amount,
        credit_limit=risk.credit_limit, credit_currency=risk.credit_currency,
        scored_at=risk.scored_at, trigger=risk.trigger,
        features=risk.features if include == "features" else None)


@router.get("/{customer_id}/scores", operation_id="risk-scores",
            summary="A customer's score history",
            description="Newest first; an entry is written whenever the score, tier or model "
                        "changed. `shadow=true` lists challenger scores instead.",
            response_model=ScorePage, **secured("risk:read", extra_errors=[404]))
def get_scores(customer_id: str, session: Session = SessionDep,
               target: Literal["default", "churn"] | None = None, shadow: bool = False,
               limit: int = Query(50, ge=1, le=500),
               offset: int = Query(0, ge=0)) -> ScorePage:
    if not service.customer_exists(session, customer_id):
        raise NotFound(f"No customer {customer_id!r}.")
    rows, total = service.score_history(session, customer_id=customer_id, target=target,
                                        shadow=shadow, limit=limit, offset=offset)
    return ScorePage(items=[ScoreOut.model_validate(r, from_attributes=True) for r in rows],
                     total=total, limit=limit, offset=offset)
