"""POST /v1/customers, POST /v1/customers/batch and GET /v1/customers/{customer_id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.ingest.customers.schemas import (
    BackgroundCheck,
    CustomerBatchIn,
    CustomerIn,
    UpsertBatchResult,
    UpsertResult,
)
from services.ingest.customers.service import UpsertOutcome, background_check, upsert_customers
from services.ingest.http import settings_of
from services.ingest.idempotency.http import IDEMPOTENCY_PARAMETER, idempotent
from services.ingest.idempotency.service import json_digest
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.errors import PayloadTooLarge, field_error

router = APIRouter(prefix="/v1/customers", tags=["customers"])
_STATUS = {"created": 201, "updated": 200, "unchanged": 200, "stale": 200}


def _result(outcome: UpsertOutcome) -> dict[str, Any]:
    return UpsertResult(customer_id=outcome.customer_id, status=outcome.status,
                        updated_at=outcome.updated_at).model_dump(mode="json")


@router.post(
    "",
    operation_id="customers-upsert",
    summary="Create or update one customer profile",
    description=(
        "Versioned upsert by `customer_id`: fields sent replace the stored ones, fields left "
        "out are kept. A version older than the stored `updated_at` is not applied and is "
        "answered `stale`. **201** created, **200** updated / unchanged / stale. `aliases` map "
        "other systems' ids to this customer. Supports `Idempotency-Key`."
    ),
    status_code=201,
    response_model=UpsertResult,
    **secured("ingest:write", extra_errors=(409, 422), responses={
        200: {"model": UpsertResult, "description": "Updated, unchanged or stale"}},
        parameters=[IDEMPOTENCY_PARAMETER]),
)
def post_customer(profile: CustomerIn, request: Request,
                  db: Database = DatabaseDep) -> JSONResponse:
    request_hash = json_digest(
        "POST", request.url.path, profile.model_dump(mode="json", exclude_unset=True))
    with db.transaction() as session:
        def work() -> tuple[int, Any]:
            outcome = upsert_customers(session, profiles=[profile])[0]
            return _STATUS[outcome.status], _result(outcome)

        return idempotent(request, session, work=work, request_hash=request_hash)


@router.post(
    "/batch",
    operation_id="customers-upsert-batch",
    summary="Create or update up to 1,000 customer profiles",
    description=(
        "The same versioned upsert as `POST /v1/customers` for each profile, in one "
        "transaction: either every profile is processed or (on invalid input) none is. The "
        "answer lists each profile's outcome in the order sent. Supports `Idempotency-Key`."
    ),
    status_code=200,
    response_model=UpsertBatchResult,
    **secured("ingest:write", extra_errors=(409, 413, 422),
                    parameters=[IDEMPOTENCY_PARAMETER]),
)
def post_customers_batch(batch: CustomerBatchIn, request: Request,
                         db: Database = DatabaseDep) -> JSONResponse:
    limit = settings_of(request).max_batch_customers
    if len(batch.customers) > limit:
        raise PayloadTooLarge(f"The batch holds {len(batch.customers)} profiles; at most {limit}.",
                              errors=[field_error("customers", f"at most {limit} profiles")])

    request_hash = json_digest(
        "POST", request.url.path, batch.model_dump(mode="json", exclude_unset=True))
    with db.transaction() as session:
        def work() -> tuple[int, Any]:
            outcomes = upsert_customers(session, profiles=batch.customers)
            counts = {s: sum(1 for o in outcomes if o.status == s)
                      for s in ("created", "updated", "unchanged", "stale")}
            return 200, {**counts, "results": [_result(o) for o in outcomes]}

        return idempotent(request, session, work=work, request_hash=request_hash)


@router.get(
    "/{customer_id}",
    operation_id="customers-get",
    summary="Background check: profile and history summary",
    description=(
        "The profile (with aliases) plus a summary of the customer's history: event counts by "
        "type, the last event, open invoices (issued minus paid, written-off invoices "
        "excluded) and the overdue amount (open invoices past their due date), by currency."
    ),
    response_model=BackgroundCheck,
    **secured("risk:read", extra_errors=(404,)),
)
def get_customer(customer_id: str, db: Database = DatabaseDep) -> BackgroundCheck:
    with db.read() as session:
        return background_check(session, customer_id=customer_id)
