"""/v1/customers/{customer_id}/risk and /scores: the current risk and its history."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from services.scoring.scores import service
from services.scoring.scores.schemas import RiskOut, ScoreOut, ScorePage
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.errors import NotFound
from shared.responses import model_response
from shared.validation import INT64_MAX

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
async def get_risk(customer_id: str, db: Database = DatabaseDep,
                   include: Literal["features"] | None = Query(
                       None, description="`features` adds the feature values")) -> Response:
    # The hot read runs on the event loop: one indexed statement that takes no lock costs
    # less than the hop to a worker thread (bench/README.md, "Risk reads on the event loop").
    # What can take long (a model parsed, reasons computed and written) is sent to a thread.
    found = service.lookup_risk(db, customer_id)
    if not found.exists:
        raise NotFound(f"No customer {customer_id!r}.")
    if found.view is None:
        raise NotScored(f"Customer {customer_id!r} has not been scored yet.")
    if service.needs_explaining(found.view.risk):
        await run_in_threadpool(service.explain_on_read, db, found.view.risk)
    return model_response(RiskOut.of(found.view, include_features=include == "features"))


@router.get("/{customer_id}/scores", operation_id="risk-scores",
            summary="A customer's score history",
            description="Newest first; an entry is written whenever the score, tier or model "
                        "changed. `shadow=true` lists challenger scores instead.",
            response_model=ScorePage, **secured("risk:read", extra_errors=[404]))
def get_scores(customer_id: str, db: Database = DatabaseDep,
               target: Literal["default", "churn"] | None = None, shadow: bool = False,
               limit: int = Query(50, ge=1, le=500),
               offset: int = Query(0, ge=0, le=INT64_MAX)) -> ScorePage:
    with db.read() as session:
        if not service.customer_exists(session, customer_id):
            raise NotFound(f"No customer {customer_id!r}.")
        rows, total = service.score_history(session, customer_id=customer_id, target=target,
                                            shadow=shadow, limit=limit, offset=offset)
        return ScorePage(items=[ScoreOut.model_validate(r, from_attributes=True) for r in rows],
                         total=total, limit=limit, offset=offset)
