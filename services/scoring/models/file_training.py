"""Training from a labelled CSV: the outcome column is named in the request, text columns are
detected as categorical, k-fold cross-validation plus a holdout. The model's columns are read
from customers' profile fields or attributes at scoring time, so it can score live customers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.scoring.jobs.service import JobInputError, Progress
from services.scoring.models import calibration, metrics, tuning
from services.scoring.models.labels import load_outcomes
from services.scoring.models.training import (
    evaluate,
    importance,
    overrides_only,
    reference,
)
from services.scoring.models.woe import fit_scorecard, iv_reading
from shared.db import Database
from shared.models import Customer, utcnow
from shared.models.scoring import RiskModel, ScoringJob

FEATURE_SET = "attributes"
FEATURE_SET_VERSION = 1
# CSV columns that name a customer profile field; any other column is read from attributes.
PROFILE_COLUMNS = {"industry", "country", "employees", "annual_revenue", "credit_limit",
                   "owner"}
MAX_CATEGORIES = 200
TUNED_KEYS = ("learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction",
              "bagging_fraction", "lambda_l2")


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


def portfolio_base_rate(db: Database, *, target: str) -> float:
    """The portfolio's observed rate: customers whose first outcome fell in the last year of
    stored events, among those it had not happened to a year before."""
    with db.transaction() as session:
        outcomes = load_outcomes(session, target=target)
        customers = int(session.scalar(select(func.count()).select_from(Customer)) or 0)
    start = outcomes.last_day - 365
    earlier = sum(1 for day in outcomes.first_bad.values() if day <= start)
    recent = sum(1 for day in outcomes.first_bad.values() if start < day <= outcomes.last_day)
    at_risk = customers - earlier
    if at_risk <= 0 or recent == 0:
        raise JobInputError("cannot measure the portfolio's base rate: no outcomes in the "
                            "last year of stored events; give base_rate instead")
    return recent / at_risk


def train_from_file(db: Database, job: ScoringJob, progress: Progress) -> dict[str, Any]:
    """Compare every model family on repeated folds (tuning inside each training part),
    then fit the requested family on all rows, calibrate it out of fold and correct it to
    the portfolio's base rate when the file's bad rate is not the portfolio's."""
    request = job.request
    started = time.perf_counter()
    family = request.get("family", "lightgbm")
    target = request.get("target", "default")
    params = overrides_only(request.get("params"))
    folds = int(request.get("folds", 5))
    repeats = int(request.get("repeats", 2))
    trials = int(request.get("tuning_trials", 20))
    seconds = float(request.get("tuning_seconds", 30.0))
    seed = int(params.get("seed", tuning.BASE_PARAMS["seed"]))
    columns, x, y, categories = parse_csv(job.input_text or "", outcome=request["outcome"],
                                          id_column=request.get("id_column"))
    if y.sum() < folds or (1 - y).sum() < folds:
        raise JobInputError("too few positive or negative outcomes for cross-validation")
    base_rate = request.get("base_rate")
    if base_rate is None and request.get("base_rate_from_portfolio"):
        base_rate = portfolio_base_rate(db, target=target)
    categorical = list(categories)
    base = tuning.lgbm_params(columns, target, {**tuning.BASE_PARAMS, **params})
    # The outer folds get a share of the tuning budget; the final model gets the rest.
    outer = repeats * folds
    fold_trials = max(min(trials, 2), trials // 4) if trials > 1 else trials
    fold_seconds = seconds / 2 / outer
    progress(f"comparing models on {repeats}x{folds} folds", 0.05, force=True)
    comparison = tuning.compare(x, y, names=columns, categorical=categorical, target=target,
                                repeats=repeats, folds=folds, trials=fold_trials,
                                seconds=fold_seconds, seed=seed, base=base)
    oof = comparison.pop("oof")
    comparison["tuning_per_training_part"] = {"trials": fold_trials,
                                              "seconds": round(fold_seconds, 3)}
    progress("final model", 0.8, force=True)
    chosen = "woe_scorecard" if family == "woe_scorecard" else "lightgbm_tuned"
    oof_pd = oof[chosen][0]
    raw_oof = calibration.logit(oof_pd)
    cal = calibration.platt_if_it_helps(raw_oof, y, seed=seed)
    shift = calibration.prior_shift(float(y.mean()), float(base_rate)) if base_rate else 0.0
    cal |= {"prior_shift": round(shift, 6), "base_rate": base_rate,
            "sample_bad_rate": round(float(y.mean()), 6)}
    a, b = float(cal["a"]), float(cal["b"])
    family_report: dict[str, Any]
    if chosen == "woe_scorecard":
        card, binnings = fit_scorecard(x, y, columns, categorical=categorical)
        # A scorecard keeps its points: only the log-odds shift of the prior correction
        # (and Platt's intercept when its slope stays 1) moves the base.
        card.shift_log_odds(shift)
        cal |= {"a": 1.0, "b": 0.0, "applied": False,
                "note": "scorecards keep their points; Platt is reported, not applied"}
        pd_all = card.predict(x)
        model_text = json.dumps(card.to_json())
        stored_params: dict[str, Any] = {"family": "woe_scorecard",
                                         "calibration": {"a": 1.0, "b": 0.0}}
        family_report = {"scorecard": card.table(categories), "dropped": card.dropped,
                         "information_value": [
                             {"feature": bn.feature, "iv": bn.iv,
                              "reading": iv_reading(bn.iv), "bins": bn.n_bins}
                             for bn in sorted(binnings, key=lambda bn: -bn.iv)],
                         "base_points": card.base}
        ref = {"score": metrics.reference_bins(pd_all),
               "features": {name: next((bn.reference(x[:, j]) for bn in card.binnings
                                        if bn.feature == name),
                                       metrics.reference_bins(x[:, j]))
                            for j, name in enumerate(columns)}}
    else:
        tuned = tuning.tune(x, y, names=columns, categorical=categorical, base=base,
                            trials=trials, seconds=seconds / 2, seed=seed)
        booster = tuning.train_lgbm(x, y, params=tuned.params, names=columns,
                                    categorical=categorical, rounds=tuned.rounds)
        b += shift
        raw_all = np.asarray(booster.predict(x, raw_score=True))
        pd_all = calibration.sigmoid(a * raw_all + b)
        model_text = booster.model_to_string()
        stored_params = {**tuned.params, "num_boost_round": tuned.rounds, "family": "lightgbm",
                         "calibration": {"a": a, "b": b}}
        family_report = {"feature_importance": importance(booster, columns),
                         "best_iteration": tuned.rounds,
                         "tuning": {"trials": tuned.trials, "seconds": tuned.seconds,
                                    "inner_auc": tuned.inner_auc,
                                    "default_inner_auc": tuned.default_inner_auc,
                                    "params": {k: tuned.params[k] for k in TUNED_KEYS
                                               if k in tuned.params}}}
        ref = reference(pd_all, x, columns)
    calibrated_oof = calibration.sigmoid(a * raw_oof + (b - shift))
    first = [r for r in comparison["folds_detail"] if r["model"] == chosen and r["repeat"] == 0]
    chosen_auc = comparison["models"][chosen]["auc"]
    report = {
        "target": target, "family": chosen if chosen == "woe_scorecard" else "lightgbm",
        "source_rows": int(len(y)), "outcome_column": request["outcome"], "columns": columns,
        "categorical_columns": categorical,
        "validation": f"{repeats}x{folds}-fold cross-validation, tuning inside each training "
                      "part; metrics are out of fold",
        "train": {"rows": int(len(y)), "bads": int(y.sum()),
                  "bad_rate": round(float(y.mean()), 6), "period": None},
        "cross_validation": {"folds": [{"auc": r["auc"], "brier": r["brier"]} for r in first],
                             "auc_mean": chosen_auc["mean"], "auc_std": chosen_auc["sd"]},
        "comparison": comparison,
        "metrics": evaluate(y, calibrated_oof),
        "calibration": calibration.report(y, calibrated_oof),
        "calibration_method": cal,
        "training_seconds": round(time.perf_counter() - started, 3),
        **family_report,
    }
    model = RiskModel(
        name=request.get("name") or f"{target} {report['family']} from file", target=target,
        source="file", status="candidate", feature_set=FEATURE_SET,
        feature_set_version=FEATURE_SET_VERSION, features=columns, categories=categories,
        params=stored_params, model_text=model_text, report=report, reference=ref,
        created_by=job.created_by, created_at=utcnow())
    with db.transaction() as session:
        session.add(model)
        session.flush()
        model_id = model.id
    return {"model_id": model_id, "metrics": report["metrics"],
            "cv_auc_mean": report["cross_validation"]["auc_mean"]}
