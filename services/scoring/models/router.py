"""/v1/models: training jobs, the registry, promotion and rollback, drift; /v1/scoring/rescore."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from sqlalchemy.orm import Session

from services.scoring.common import actor_of
from services.scoring.jobs import service as jobs
from services.scoring.models import service
from services.scoring.models.schemas import (
    JobOut,
    ModelOut,
    ModelSummary,
    RescoreRequest,
    RollbackRequest,
    StatusChange,
    Target,
    TrainRequest,
)
from shared.auth import secured
from shared.errors import BadRequest
from shared.models.scoring import RiskModel
from shared.service import SessionDep

router = APIRouter(prefix="/v1/models", tags=["models"])
scoring_router = APIRouter(prefix="/v1/scoring", tags=["models"])
MAX_CSV_BYTES = 200 * 1024 * 1024


def _summary(model: RiskModel) -> dict[str, Any]:
    return {"id": model.id, "name": model.name, "target": model.target,
            "source": model.source, "status": model.status, "feature_set": model.feature_set,
            "feature_set_version": model.feature_set_version, "created_by": model.created_by,
            "created_at": model.created_at, "promoted_at": model.promoted_at,
            "retired_at": model.retired_at, "metrics": (model.report or {}).get("metrics")}


@router.post("/train", operation_id="models-train", status_code=202,
             summary="Train a model from stored events (background job)",
             description="Builds monthly point-in-time snapshots, trains LightGBM and "
                         "validates out of time. Returns the job; follow it at "
                         "`GET /v1/models/jobs/{id}`. The model starts as a candidate.",
             response_model=JobOut, **secured("models:write", extra_errors=[422]))
def train(body: TrainRequest, request: Request, session: Session = SessionDep) -> JobOut:
    job = jobs.create_job(session, kind="train", request=body.model_dump(mode="json"),
                          actor=actor_of(request))
    return JobOut.model_validate(job, from_attributes=True)


@router.post("/train-from-file", operation_id="models-train-from-file", status_code=202,
             summary="Train a model from a labelled CSV (background job)",
             description="Multipart upload: `file` (CSV with a header), `outcome` (the 0/1 "
                         "column). Text columns are categorical. 5-fold cross-validation plus "
                         "a 20 % holdout. At scoring time the columns are read from customer "
                         "profile fields (industry, country, employees, annual_revenue, "
                         "credit_limit) or else from customer attributes.",
             response_model=JobOut, **secured("models:write", extra_errors=[400, 413, 422]))
def train_from_file(request: Request, file: UploadFile = File(...),
                    outcome: str = Form(..., description="name of the 0/1 outcome column"),
                    target: Target = Form("default"),
                    id_column: str | None = Form(None, description="column to ignore (ids)"),
                    folds: int = Form(5, ge=2, le=10),
                    name: str | None = Form(None),
                    session: Session = SessionDep) -> JobOut:
    raw = file.file.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise BadRequest("CSV larger than 200 MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The CSV must be UTF-8.") from exc
    header = text.splitlines()[0].split(",") if text else []
    if outcome not in [h.strip() for h in header]:
        raise BadRequest(f"Outcome column {outcome!r} is not in the CSV header.")
    job = jobs.create_job(session, kind="train_file", actor=actor_of(request), input_text=text,
                          request={"outcome": outcome, "target": target,
                                   "id_column": id_column, "folds": folds, "name": name,
                                   "filename": file.filename})
    return JobOut.model_validate(job, from_attributes=True)


@router.get("/jobs/{job_id}", operation_id="models-job", summary="A background job's progress",
            description="Status, stage, progress 0..1, the result (with the model id) or "
                        "the error.", response_model=JobOut,
            **secured("risk:read", extra_errors=[404]))
def get_job(job_id: int, session: Session = SessionDep) -> JobOut:
    return JobOut.model_validate(jobs.get_job(session, job_id), from_attributes=True)


@router.get("", operation_id="models-list", summary="Models in the registry",
            description="Newest first, with their headline out-of-time metrics.",
            response_model=list[ModelSummary], **secured("risk:read"))
def list_models(session: Session = SessionDep, target: Target | None = None,
                status: str | None = Query(None, pattern="^(candidate|champion|challenger|"
                                                          "retired)$"),
                limit: int = Query(50, ge=1, le=500),
                offset: int = Query(0, ge=0)) -> list[ModelSummary]:
    return [ModelSummary(**_summary(m)) for m in
            service.list_models(session, target=target, status=status, limit=limit,
                                offset=offset)]


@router.post("/rollback", operation_id="models-rollback",
             summary="Roll back to the previous champion",
             description="The current champion retires; the previous one (or the built-in "
                         "scorecard) scores again. Audited; everyone is rescored.",
             **secured("models:write", extra_errors=[404]))
def rollback(body: RollbackRequest, request: Request,
             session: Session = SessionDep) -> dict[str, Any]:
    return service.rollback(session, target=body.target, actor=actor_of(request))


@router.get("/{model_id}", operation_id="models-get", summary="A model and its report",
            description="AUC, Gini, KS, Brier, calibration by decile, feature importance, "
                        "training and test sizes and periods.", response_model=ModelOut,
            **secured("risk:read", extra_errors=[404]))
def get_model(model_id: int, session: Session = SessionDep) -> ModelOut:
    model = service.get_model(session, model_id)
    return ModelOut(**_summary(model), features=model.features, categories=model.categories,
                    params=model.params, report=model.report)


@router.post("/{model_id}/promote", operation_id="models-promote",
             summary="Make a model its target's champion",
             description="The previous champion retires and is kept for rollback. Audited; "
                         "a rescoring job scores everyone with the new champion.",
             **secured("models:write", extra_errors=[404, 409]))
def promote(model_id: int, request: Request, session: Session = SessionDep) -> dict[str, Any]:
    return service.promote(session, model_id=model_id, actor=actor_of(request))


@router.post("/{model_id}/status", operation_id="models-status",
             summary="Run a model as challenger (shadow) or retire it",
             description="A challenger scores in shadow beside the champion; its scores are "
                         "kept in the history with `shadow=true` and never used. Audited.",
             response_model=ModelSummary, **secured("models:write", extra_errors=[404, 409]))
def change_status(model_id: int, body: StatusChange, request: Request,
                  session: Session = SessionDep) -> ModelSummary:
    model = service.set_status(session, model_id=model_id, status=body.status,
                               actor=actor_of(request))
    return ModelSummary(**_summary(model))


@router.get("/{model_id}/drift", operation_id="models-drift",
            summary="Population stability of scores and features",
            description="PSI of the model's current scores and of each input against its "
                        "training distribution: < 0.1 stable, 0.1-0.25 watch, > 0.25 act.",
            **secured("risk:read", extra_errors=[404, 409]))
def drift(model_id: int, session: Session = SessionDep) -> dict[str, Any]:
    return service.drift(session, model_id=model_id)


@scoring_router.post("/rescore", operation_id="scoring-rescore", status_code=202,
                     summary="Rescore all customers or a filtered set (background job)",
                     description="Set-based and batched. Also runs nightly on its own.",
                     response_model=JobOut, **secured("models:write", extra_errors=[422]))
def rescore(body: RescoreRequest, request: Request, session: Session = SessionDep) -> JobOut:
    flt = body.filter.model_dump(exclude_none=True)
    job = jobs.create_job(session, kind="rescore", actor=actor_of(request),
                          request={"filter": flt, "trigger": "rescore"})
    return JobOut.model_validate(job, from_attributes=True)


@scoring_router.get("/jobs", operation_id="scoring-jobs", summary="Recent background jobs",
                    description="Training and rescoring jobs, newest first.",
                    response_model=list[JobOut], **secured("risk:read"))
def list_jobs(session: Session = SessionDep, kind: str | None = None,
              limit: int = Query(50, ge=1, le=500),
              offset: int = Query(0, ge=0)) -> list[JobOut]:
    from services.scoring.jobs import repository

    return [JobOut.model_validate(j, from_attributes=True)
            for j in repository.list_jobs(session, kind=kind, limit=limit, offset=offset)]
