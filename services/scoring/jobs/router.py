"""/v1/scoring/jobs, /v1/scoring/rescore and /v1/models/jobs/{id}: background jobs."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from services.scoring.jobs import repository, service
from services.scoring.jobs.schemas import JobOut, RescoreRequest
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.validation import INT64_MAX, RowId

router = APIRouter(tags=["models"])


@router.post("/v1/scoring/rescore", operation_id="scoring-rescore", status_code=202,
             summary="Rescore all customers or a filtered set (background job)",
             description="Set-based and batched. Also runs nightly on its own.",
             response_model=JobOut, **secured("models:write", extra_errors=[422]))
def rescore(body: RescoreRequest, request: Request, db: Database = DatabaseDep) -> JobOut:
    flt = body.filter.model_dump(exclude_none=True)
    with db.transaction() as session:
        job = service.create_job(session, kind="rescore",
                                 actor=current_principal(request).actor,
                                 request={"filter": flt, "trigger": "rescore",
                                          "features": body.features})
        return JobOut.model_validate(job, from_attributes=True)


@router.get("/v1/scoring/jobs", operation_id="scoring-jobs", summary="Recent background jobs",
            description="Training and rescoring jobs, newest first.",
            response_model=list[JobOut], **secured("risk:read"))
def list_jobs(db: Database = DatabaseDep, kind: str | None = None,
              limit: int = Query(50, ge=1, le=500),
              offset: int = Query(0, ge=0, le=INT64_MAX)) -> list[JobOut]:
    with db.read() as session:
        return [JobOut.model_validate(j, from_attributes=True)
                for j in repository.list_jobs(session, kind=kind, limit=limit, offset=offset)]


@router.get("/v1/models/jobs/{job_id}", operation_id="models-job",
            summary="A background job's progress",
            description="Status, stage, progress 0..1, the result (with the model id) or "
                        "the error.", response_model=JobOut,
            **secured("risk:read", extra_errors=[404]))
def get_job(job_id: RowId, db: Database = DatabaseDep) -> JobOut:
    with db.read() as session:
        return JobOut.model_validate(service.get_job(session, job_id), from_attributes=True)
