"""/v1/decisions/credit: may this customer have this amount on credit?"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.scoring.decisions import service
from services.scoring.decisions.schemas import CreditDecision, CreditRequest
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.responses import model_response

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.post("/credit", operation_id="decisions-credit",
             summary="Approve, refer or decline an amount on credit",
             description="Applies the tier's strategy to the customer's stored current risk: "
                         "approve within the available limit (credit limit × tier factor − "
                         "outstanding balance), refer above it, for tier high or without a "
                         "limit, decline when in default or when the tier blocks new credit. "
                         "Every decision is audited. Unknown customer: 404.",
             response_model=CreditDecision, **secured("risk:read", extra_errors=[404, 422]))
async def credit_decision(body: CreditRequest, request: Request,
                          db: Database = DatabaseDep) -> Response:
    decision = await service.decide(db, request=body, actor=current_principal(request).actor,
                                    audit_log=request.app.state.audit_log)
    return model_response(decision)
