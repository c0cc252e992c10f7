"""/v1/tiers: thresholds and strategies (versioned) and tier overrides."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from services.scoring.tiers import distribution, service
from services.scoring.tiers.schemas import (
    OverrideIn,
    OverrideOut,
    PdDistribution,
    TierConfigIn,
    TierConfigOut,
)
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import INT64_MAX

router = APIRouter(prefix="/v1/tiers", tags=["tiers"])


@router.get("", operation_id="tiers-get", summary="Tier thresholds and strategies in force",
            description="PD thresholds (low below `medium`, high from `high`) and each tier's "
                        "strategy. Version 0 is the built-in default (2 % / 10 %).",
            response_model=TierConfigOut, **secured("risk:read"))
def get_tiers(db: Database = DatabaseDep) -> TierConfigOut:
    with db.read() as session:
        return service.get_config(session)


@router.get("/distribution", operation_id="tiers-distribution",
            summary="Current PDs against the tier cut-offs",
            description="A histogram of every scored customer's current default PD; the "
                        "bucket edges include the thresholds in force, so each bucket "
                        "names the one tier its PDs fall in. With the thresholds and the "
                        "count per tier.",
            response_model=PdDistribution, **secured("risk:read"))
def pd_distribution(db: Database = DatabaseDep) -> PdDistribution:
    with db.read() as session:
        return distribution.pd_distribution(session)


@router.put("", operation_id="tiers-put", summary="Set tier thresholds and strategies",
            description="Stores a new version (earlier versions are kept; every score names "
                        "the version it was tiered with). Audited.",
            response_model=TierConfigOut, **secured("models:write", extra_errors=[422]))
def put_tiers(body: TierConfigIn, request: Request,
              db: Database = DatabaseDep) -> TierConfigOut:
    with db.transaction() as session:
        return service.put_config(session, config=body, actor=current_principal(request).actor)


@router.get("/versions", operation_id="tiers-versions", summary="Tier configuration history",
            description="Every version, newest first, ending with the built-in defaults.",
            response_model=list[TierConfigOut], **secured("risk:read"))
def tier_versions(db: Database = DatabaseDep, limit: int = Query(50, ge=1, le=500),
                  offset: int = Query(0, ge=0, le=INT64_MAX)) -> list[TierConfigOut]:
    with db.read() as session:
        return service.history(session, limit=limit, offset=offset)


@router.put("/overrides/{customer_id}", operation_id="tiers-override-set",
            summary="Override a customer's tier until an expiry",
            description="An analyst's tier (e.g. after a review) with a reason; honoured by "
                        "the risk API and credit decisions until `expires_at` or until lifted. "
                        "Audited.",
            response_model=OverrideOut, status_code=201,
            **secured("models:write", extra_errors=[404, 422]))
def set_override(customer_id: str, body: OverrideIn, request: Request,
                 db: Database = DatabaseDep) -> OverrideOut:
    with db.transaction() as session:
        return service.set_override(session, customer_id=customer_id, override=body,
                                    actor=current_principal(request).actor)


@router.get("/overrides/{customer_id}", operation_id="tiers-override-list",
            summary="A customer's tier overrides", description="All overrides, newest first, "
            "each with whether it is in force now.",
            response_model=list[OverrideOut], **secured("risk:read"))
def list_overrides(customer_id: str, db: Database = DatabaseDep) -> list[OverrideOut]:
    with db.read() as session:
        return service.list_overrides(session, customer_id=customer_id)


@router.delete("/overrides/{customer_id}", operation_id="tiers-override-lift",
               summary="Lift a customer's tier override",
               description="Back to the model's tier. Audited.", status_code=204,
               **secured("models:write", extra_errors=[404]))
def lift_override(customer_id: str, request: Request, db: Database = DatabaseDep) -> None:
    with db.transaction() as session:
        service.lift_overrides(session, customer_id=customer_id,
                               actor=current_principal(request).actor)
