"""Training from a labelled CSV: the outcome column is named in the request, text columns are
detected as categorical, k-fold cross-validation plus a holdout. The model's columns are read
from customers' profile fields or attributes at scoring time, so it can score live customers.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring.jobs.service import JobInputError, Progress
from services.scoring.models import metrics
from services.scoring.models.training import (
    evaluate,
    fit,
    importance,
    merged_params,
    reference,
)
from shared.db import Database
from shared.models import Customer, utcnow
from shared.models.scoring import RiskModel, ScoringJob

FEATURE_SET = "attributes"
FEATURE_SET_VERSION = 1
# CSV columns that name a customer profile field; any other column is read from attributes.
PROFILE_COLUMNS = {"industry", "country", "employees", "annual_revenue", "credit_limit",
                   "owner"}
MAX_CATEGORIES = 200


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_csv(text: str, *, outcome: str, id_column: str | None
              ) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, list[str]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    if outcome not in fields:
        raise JobInputError(f"outcome column {outcome!r} not in the CSV header {fields}")
    rows = list(reader)
    if len(rows) < 50:
        raise JobInputError("need at least 50 labelled rows")
    skip = {outcome, id_column or "customer_id"}
    columns = [f for f in fields if f not in skip]
    if not columns:
        raise JobInputError("no feature columns besides the outcome")
    y = []
    for k, row in enumerate(rows):
        value = (row.get(outcome) or "").strip().lower()
        if value in ("1", "true", "yes", "bad", "1.0"):
            y.append(1.0)
        elif value in ("0", "false", "no", "good", "0.0"):
            y.append(0.0)
        else:
            raise JobInputError(f"row {k + 2}: outcome {value!r} is not 0/1")
    categories: dict[str, list[str]] = {}
    for column in columns:
        values = [(row.get(column) or "").strip() for row in rows]
        present = [v for v in values if v]
        if present and any(_number(v) is None for v in present):
            levels = sorted(set(present))
            if len(levels) > MAX_CATEGORIES:
                raise JobInputError(f"column {column!r} has {len(levels)} distinct text values;"
                                    f" at most {MAX_CATEGORIES} are supported")
            categories[column] = levels
    x = np.full((len(rows), len(columns)), np.nan)
    for j, column in enumerate(columns):
        known = categories.get(column)
        lookup = {v: i for i, v in enumerate(known)} if known else None
        for i, row in enumerate(rows):
            value = (row.get(column) or "").strip()
            if not value:
                continue
            parsed = lookup.get(value) if lookup is not None else _number(value)
            if parsed is not None:
                x[i, j] = parsed
    return columns, x, np.array(y), categories


def attribute_matrix(session: Session, customer_ids: Sequence[str], features: Sequence[str],
                     categories: dict[str, list[str]]) -> np.ndarray:
    """A file-trained model's inputs for live customers, from profiles and attributes."""
    rows = {c.customer_id: c for c in session.scalars(
        select(Customer).where(Customer.customer_id.in_(list(customer_ids))))}
    lookups = {name: {v: i for i, v in enumerate(levels)} for name, levels in categories.items()}
    x = np.full((len(customer_ids), len(features)), np.nan)
    for i, cid in enumerate(customer_ids):
        customer = rows.get(cid)
        if customer is None:
            continue
        for j, name in enumerate(features):
            raw = (getattr(customer, name) if name in PROFILE_COLUMNS
                   else (customer.attributes or {}).get(name))
            if raw is None:
                continue
            if name in lookups:
                code = lookups[name].get(str(raw))
                x[i, j] = np.nan if code is None else code
            else:
                number = _number(str(raw))
                x[i, j] = np.nan if number is None else number
    return x


def train_from_file(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
    request = job.request
    started = time.perf_counter()
    params, rounds, early = merged_params(request.get("params"))
    folds = int(request.get("folds", 5))
    holdout_share = float(request.get("holdout", 0.2))
    columns, x, y, categories = parse_csv(job.input_text or "", outcome=request["outcome"],
                                          id_column=request.get("id_column"))
    if y.sum() < folds or (1 - y).sum() < folds:
        raise JobInputError("too few positive or negative outcomes for cross-validation")
    rng = np.random.default_rng(int(params.get("seed", 7)))
    order = rng.permutation(len(y))
    n_holdout = max(int(len(y) * holdout_share), 1)
    holdout, rest = order[:n_holdout], order[n_holdout:]
    categorical = list(categories)
    fold_ids = np.arange(len(rest)) % folds
    cv = []
    best = []
    for k in range(folds):
        progress(f"cross-validation fold {k + 1}/{folds}", 0.8 * k / folds, force=True)
        train_idx, valid_idx = rest[fold_ids != k], rest[fold_ids == k]
        booster = fit(x[train_idx], y[train_idx], x[valid_idx], y[valid_idx], params=params,
                      rounds=rounds, early=early, feature_names=columns,
                      categorical=categorical)
        pd = np.asarray(booster.predict(x[valid_idx]))
        cv.append(evaluate(y[valid_idx], pd))
        best.append(int(booster.best_iteration or booster.current_iteration()))
    progress("final model", 0.85, force=True)
    final_rounds = max(int(np.mean(best)), 10)
    booster = fit(x[rest], y[rest], x[:0], y[:0], params=params, rounds=final_rounds,
                  early=early, feature_names=columns, categorical=categorical)
    pd_holdout = np.asarray(booster.predict(x[holdout]))
    pd_all = np.asarray(booster.predict(x))
    aucs = [f["auc"] for f in cv]
    report = {
        "target": request.get("target", "default"), "source_rows": int(len(y)),
        "outcome_column": request["outcome"], "columns": columns,
        "categorical_columns": categorical,
        "validation": f"{folds}-fold cross-validation and a {holdout_share:.0%} holdout",
        "train": {"rows": int(len(rest)), "bads": int(y[rest].sum()),
                  "bad_rate": round(float(y[rest].mean()), 6), "period": None},
        "test": {"rows": int(len(holdout)), "bads": int(y[holdout].sum()),
                 "bad_rate": round(float(y[holdout].mean()), 6), "period": None},
        "cross_validation": {"folds": cv, "auc_mean": round(float(np.mean(aucs)), 6),
                             "auc_std": round(float(np.std(aucs)), 6)},
        "metrics": evaluate(y[holdout], pd_holdout),
        "calibration": metrics.calibration_by_decile(y[holdout], pd_holdout),
        "feature_importance": importance(booster, columns),
        "best_iteration": final_rounds,
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    model = RiskModel(
        name=request.get("name") or f"{report['target']} from file", target=report["target"],
        source="file", status="candidate", feature_set=FEATURE_SET,
        feature_set_version=FEATURE_SET_VERSION, features=columns, categories=categories,
        params={**params, "num_boost_round": final_rounds},
        model_text=booster.model_to_string(), report=report,
        reference=reference(pd_all, x, columns), created_by=job.created_by,
        created_at=utcnow())
    with db.transaction() as session:
        session.add(model)
        session.flush()
        model_id = model.id
    return {"model_id": model_id, "metrics": report["metrics"],
            "cv_auc_mean": report["cross_validation"]["auc_mean"]}
