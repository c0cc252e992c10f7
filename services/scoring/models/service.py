"""The model registry: candidates, one champion per target, challengers in shadow, retired
models; promotion and rollback (audited); drift against the training distributions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring.features.definitions import FEATURE_INDEX
from services.scoring.features.service import FeatureFrame
from services.scoring.jobs.service import create_job
from services.scoring.models import metrics
from services.scoring.models.schemas import DriftReport, ModelStatus, Promotion, Rollback
from services.scoring.scores.engine import scorer_for_model
from shared import audit
from shared.errors import Conflict, NotFound
from shared.models import utcnow
from shared.models.scoring import CustomerRisk, ModelChampion, RiskModel

DRIFT_SAMPLE = 50_000


def get_model(session: Session, model_id: int) -> RiskModel:
    model = session.get(RiskModel, model_id)
    if model is None:
        raise NotFound(f"No model {model_id}.")
    return model


def list_models(session: Session, *, target: str | None, status: str | None, limit: int,
                offset: int) -> list[RiskModel]:
    query = select(RiskModel).order_by(RiskModel.id.desc()).limit(limit).offset(offset)
    if target:
        query = query.where(RiskModel.target == target)
    if status:
        query = query.where(RiskModel.status == status)
    return list(session.scalars(query))


def _rescore_everyone(session: Session, actor: str, reason: str) -> int:
    # Only the model changed: the job scores the feature vectors stored at the last scoring.
    return create_job(session, kind="rescore", request={"filter": {}, "reason": reason,
                                                        "features": "stored"},
                      actor=actor).id


def promote(session: Session, *, model_id: int, actor: str) -> Promotion:
    """Make a model its target's champion; the previous champion retires (and is
    remembered for rollback). Everyone is rescored with the new champion."""
    model = get_model(session, model_id)
    if model.status == ModelStatus.CHAMPION:
        raise Conflict(f"Model {model_id} is already the {model.target} champion.")
    now = utcnow()
    champion = session.get(ModelChampion, model.target, with_for_update=True)
    previous_id = None
    if champion is None:
        session.add(ModelChampion(target=model.target, model_id=model.id,
                                  previous_model_id=None, promoted_at=now, promoted_by=actor))
    else:
        previous_id = champion.model_id
        previous = session.get(RiskModel, previous_id)
        if previous is not None:
            previous.status, previous.retired_at = ModelStatus.RETIRED, now
        champion.previous_model_id = previous_id
        champion.model_id, champion.promoted_at, champion.promoted_by = model.id, now, actor
    model.status, model.promoted_at, model.retired_at = ModelStatus.CHAMPION, now, None
    session.flush()
    audit.record(session, actor=actor, action="model.promoted", subject_type="risk_model",
                 subject_id=str(model.id),
                 details={"target": model.target, "previous_model_id": previous_id,
                          "auc": (model.report.get("metrics") or {}).get("auc")})
    job_id = _rescore_everyone(session, actor, f"model {model.id} promoted")
    return Promotion(model_id=model.id, target=model.target,  # type: ignore[arg-type]
                     previous_model_id=previous_id, rescore_job_id=job_id)


def rollback(session: Session, *, target: str, actor: str) -> Rollback:
    """Back to the previous champion (or to the built-in scorecard if there was none)."""
    champion = session.get(ModelChampion, target, with_for_update=True)
    if champion is None:
        raise NotFound(f"No {target} champion to roll back; the scorecard is in use.")
    now = utcnow()
    current = session.get(RiskModel, champion.model_id)
    if current is not None:
        current.status, current.retired_at = ModelStatus.RETIRED, now
    restored = champion.previous_model_id
    if restored is None:
        session.delete(champion)
    else:
        model = get_model(session, restored)
        model.status, model.promoted_at, model.retired_at = ModelStatus.CHAMPION, now, None
        champion.model_id, champion.previous_model_id = restored, None
        champion.promoted_at, champion.promoted_by = now, actor
    session.flush()
    audit.record(session, actor=actor, action="model.rolled_back", subject_type="risk_model",
                 subject_id=str(champion.model_id if restored else current.id
                                if current else "scorecard"),
                 details={"target": target, "from_model_id": current.id if current else None,
                          "to_model_id": restored})
    job_id = _rescore_everyone(session, actor, f"{target} rollback")
    return Rollback(target=target, model_id=restored,  # type: ignore[arg-type]
                    retired_model_id=current.id if current else None, rescore_job_id=job_id)


def set_status(session: Session, *, model_id: int, status: str, actor: str) -> RiskModel:
    """challenger (score in shadow beside the champion) or retired."""
    model = get_model(session, model_id)
    if model.status == ModelStatus.CHAMPION:
        raise Conflict("The champion cannot change status; promote another model or roll "
                       "back instead.")
    model.status = status
    model.retired_at = utcnow() if status == ModelStatus.RETIRED else None
    session.flush()
    audit.record(session, actor=actor, action=f"model.{status}", subject_type="risk_model",
                 subject_id=str(model.id), details={"target": model.target})
    return model


def _current_frame(session: Session) -> FeatureFrame:
    """Current features as stored with each customer's latest score (a sample at most)."""
    rows = session.execute(select(CustomerRisk.customer_id, CustomerRisk.features)
                           .order_by(CustomerRisk.customer_id).limit(DRIFT_SAMPLE)).all()
    matrix = np.full((len(rows), len(FEATURE_INDEX)), np.nan)
    for i, (_cid, features) in enumerate(rows):
        for name, value in (features or {}).items():
            k = FEATURE_INDEX.get(name)
            if k is not None and value is not None:
                matrix[i, k] = float(value)
    n = len(rows)
    empty = np.zeros(n, dtype=bool)
    return FeatureFrame(as_of=utcnow(), customer_ids=[r[0] for r in rows], matrix=matrix,
                        outstanding=[], overdue=[], credit_limit=[], credit_currency=[],
                        active=~empty, in_default=empty, churned=empty)


def drift(session: Session, *, model_id: int) -> DriftReport:
    model = get_model(session, model_id)
    reference = model.reference or {}
    frame = _current_frame(session)
    if len(frame) == 0:
        raise Conflict("No customer has been scored yet; nothing to compare.")
    scorer = scorer_for_model(model)
    x = scorer.matrix(session, frame)
    pd = scorer.predict(x)

    def one(ref: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
        if not ref or not ref.get("edges"):
            return {"psi": None, "verdict": "no reference"}
        clean = values[~np.isnan(values)]
        value = metrics.psi(ref["shares"], metrics.bin_shares(clean, ref["edges"]))
        return {"psi": round(value, 6), "verdict": metrics.psi_verdict(value),
                "missing_share": round(float(np.isnan(values).mean()), 4),
                "reference_missing_share": ref.get("missing")}

    features = {name: one(reference.get("features", {}).get(name, {}), x[:, k])
                for k, name in enumerate(scorer.features)}
    score = one(reference.get("score", {}), pd)
    worst = max((f["psi"] for f in features.values() if f["psi"] is not None and
                 not math.isnan(f["psi"])), default=0.0)
    return DriftReport.model_validate({
        "model_id": model.id, "target": model.target, "customers": len(frame),
        "score": score, "features": features,
        "verdict": metrics.psi_verdict(max(score["psi"] or 0.0, 0.0)),
        "worst_feature_psi": round(worst, 6),
        "thresholds": {"stable": "< 0.1", "watch": "0.1 - 0.25", "act": "> 0.25"}})
