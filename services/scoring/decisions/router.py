"""/v1/decisions/credit: may this customer have this amount on credit?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from services.scoring.common import actor_of
from services.scoring.decisions import service
from services.scoring.decisions.schemas import CreditDecision, CreditRequest
from shared.auth import secured
from shared.service import SessionDep

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.post("/credit", operation_id="decisions-credit",
             summary="Approve, refer or decline an amount on credit",
             description="Applies the tier's strategy to the customer's stored current risk: "
                         "approve within the available limit (credit limit × tier factor − "
                         "outstanding balance), refer above it, for tier high or without a "
                         "limit, decline when in default or when the tier blocks new credit. "
                         "Every decision is audited. Unknown customer: 404.",
             response_model=CreditDecision, **secured("risk:read", extra_errors=[404, 422]))
def credit_decision(body: CreditRequest, request: Request,
                    session: Session = SessionDep) -> CreditDecision:
    return service.decide(session, request=body, actor=actor_of(request))
