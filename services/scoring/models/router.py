"""/v1/models: training jobs, the registry, promotion and rollback, drift."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from services.scoring.jobs import service as jobs
from services.scoring.jobs.schemas import JobOut
from services.scoring.models import service
from services.scoring.models.schemas import (
    DriftReport,
    Family,
    ModelOut,
    ModelSummary,
    Promotion,
    Rollback,
    RollbackRequest,
    StatusChange,
    Target,
    TrainRequest,
)
from services.scoring.settings import get_scoring_settings
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.errors import BadRequest
from shared.models.scoring import RiskModel
from shared.validation import INT64_MAX, RowId

router = APIRouter(prefix="/v1/models", tags=["models"])


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
def train(body: TrainRequest, request: Request, db: Database = DatabaseDep) -> JobOut:
    with db.transaction() as session:
        job = jobs.create_job(session, kind="train", request=body.model_dump(mode="json"),
                              actor=current_principal(request).actor)
        return JobOut.model_validate(job, from_attributes=True)


@router.post("/train-from-file", operation_id="models-train-from-file", status_code=202,
             summary="Train a model from a labelled CSV (background job)",
             description="Multipart upload: `file` (CSV with a header), `outcome` (the 0/1 "
                         "column). Text columns are categorical. LightGBM (tuned), the WoE "
                         "scorecard, a logistic regression and their blend are compared on "
                         "repeated k-fold cross-validation (tuning inside each training "
                         "part); the requested family is then fitted on all rows, calibrated "
                         "out of fold and corrected to the base rate if given. At scoring "
                         "time the columns are read from customer profile fields (industry, "
                         "country, employees, annual_revenue, credit_limit) or else from "
                         "customer attributes.",
             response_model=JobOut, **secured("models:write", extra_errors=[400, 413, 422]))
def train_from_file(request: Request, file: UploadFile = File(...),
                    outcome: str = Form(..., description="name of the 0/1 outcome column"),
                    target: Target = Form("default"),
                    id_column: str | None = Form(None, description="column to ignore (ids)"),
                    folds: int = Form(5, ge=2, le=10),
                    repeats: int = Form(2, ge=1, le=5,
                                        description="repeats of the k-fold comparison"),
                    family: Family = Form("lightgbm"),
                    tuning_trials: int = Form(20, ge=0, le=500,
                                              description="Optuna trials for the final "
                                                          "LightGBM model"),
                    tuning_seconds: float = Form(30.0, ge=0, le=3600,
                                                 description="time budget of the search"),
                    base_rate: float | None = Form(None, gt=0, lt=1,
                                                   description="the portfolio's bad rate; "
                                                   "the model is corrected to it when the "
                                                   "file's rate differs (enriched files)"),
                    base_rate_from_portfolio: bool = Form(
                        False, description="measure the base rate from the stored "
                                           "events' outcomes of the last year"),
                    name: str | None = Form(None),
                    db: Database = DatabaseDep) -> JobOut:
    cap = get_scoring_settings().max_training_upload_bytes
    raw = file.file.read(cap + 1)
    if len(raw) > cap:
        size = f"{cap // 2**20} MB" if cap >= 2**20 else f"{cap} bytes"
        raise BadRequest(f"CSV larger than {size}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The CSV must be UTF-8.") from exc
    header = text.splitlines()[0].split(",") if text else []
    if outcome not in [h.strip() for h in header]:
        raise BadRequest(f"Outcome column {outcome!r} is not in the CSV header.")
    with db.transaction() as session:
        job = jobs.create_job(session, kind="train_file", actor=current_principal(request).actor,
                              input_text=text,
                              request={"outcome": outcome, "target": target,
                                       "id_column": id_column, "folds": folds, "name": name,
                                       "filename": file.filename, "repeats": repeats,
                                       "family": family, "tuning_trials": tuning_trials,
                                       "tuning_seconds": tuning_seconds,
                                       "base_rate": base_rate,
                                       "base_rate_from_portfolio": base_rate_from_portfolio})
        return JobOut.model_validate(job, from_attributes=True)


@router.get("", operation_id="models-list", summary="Models in the registry",
            description="Newest first, with their headline out-of-time metrics.",
            response_model=list[ModelSummary], **secured("risk:read"))
def list_models(db: Database = DatabaseDep, target: Target | None = None,
                status: str | None = Query(None, pattern="^(candidate|champion|challenger|"
                                                          "retired)$"),
                limit: int = Query(50, ge=1, le=500),
                offset: int = Query(0, ge=0, le=INT64_MAX)) -> list[ModelSummary]:
    with db.read() as session:
        return [ModelSummary(**_summary(m)) for m in
                service.list_models(session, target=target, status=status, limit=limit,
                                    offset=offset)]


@router.post("/rollback", operation_id="models-rollback",
             summary="Roll back to the previous champion",
             description="The current champion retires; the previous one (or the built-in "
                         "scorecard) scores again. Audited; everyone is rescored.",
             response_model=Rollback, **secured("models:write", extra_errors=[404]))
def rollback(body: RollbackRequest, request: Request, db: Database = DatabaseDep) -> Rollback:
    with db.transaction() as session:
        return service.rollback(session, target=body.target,
                                actor=current_principal(request).actor)


@router.get("/{model_id:int}", operation_id="models-get", summary="A model and its report",
            description="AUC, Gini, KS, Brier, calibration by decile, feature importance, "
                        "training and test sizes and periods.", response_model=ModelOut,
            **secured("risk:read", extra_errors=[404]))
def get_model(model_id: RowId, db: Database = DatabaseDep) -> ModelOut:
    with db.read() as session:
        model = service.get_model(session, model_id)
        return ModelOut(**_summary(model), features=model.features,
                        categories=model.categories, params=model.params, report=model.report)


@router.post("/{model_id:int}/promote", operation_id="models-promote",
             summary="Make a model its target's champion",
             description="The previous champion retires and is kept for rollback. Audited; "
                         "a rescoring job scores everyone with the new champion.",
             response_model=Promotion, **secured("models:write", extra_errors=[404, 409]))
def promote(model_id: RowId, request: Request, db: Database = DatabaseDep) -> Promotion:
    with db.transaction() as session:
        return service.promote(session, model_id=model_id,
                               actor=current_principal(request).actor)


@router.post("/{model_id:int}/status", operation_id="models-status",
             summary="Run a model as challenger (shadow) or retire it",
             description="A challenger scores in shadow beside the champion; its scores are "
                         "kept in the history with `shadow=true` and never used. Audited.",
             response_model=ModelSummary, **secured("models:write", extra_errors=[404, 409]))
def change_status(model_id: RowId, body: StatusChange, request: Request,
                  db: Database = DatabaseDep) -> ModelSummary:
    with db.transaction() as session:
        model = service.set_status(session, model_id=model_id, status=body.status,
                                   actor=current_principal(request).actor)
        return ModelSummary(**_summary(model))


@router.get("/{model_id:int}/drift", operation_id="models-drift",
            summary="Population stability of scores and features",
            description="PSI of the model's current scores and of each input against its "
                        "training distribution: < 0.1 stable, 0.1-0.25 watch, > 0.25 act.",
            response_model=DriftReport, **secured("risk:read", extra_errors=[404, 409]))
def drift(model_id: RowId, db: Database = DatabaseDep) -> DriftReport:
    with db.read() as session:
        return service.drift(session, model_id=model_id)
