"""Tuning that does not fool itself, and the comparison every training report carries.

``tune`` sees only the rows it is handed (the training part of an outer split) and scores each
Optuna trial by an inner cross-validation on them, early stopping choosing the rounds. The
outer folds (or the out-of-time period) are never passed in, so the figures measured on them
stay honest. ``compare`` trains LightGBM with the defaults, LightGBM tuned, the WoE scorecard,
a logistic regression on one-hot columns and the blend on the same repeated folds, and says a
candidate is better only when the paired difference clears its spread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from services.scoring.models import calibration, metrics
from services.scoring.models.woe import fit_scorecard

# Directions that are known before any data is seen: +1 = more of it never lowers the risk,
# -1 = more of it never raises it. Used as LightGBM monotone constraints, so reasons never
# contradict common sense (a model may not say "paid too early").
DIRECTIONS: dict[str, dict[str, int]] = {
    "default": {"days_past_due": 1, "max_days_late_90": 1, "max_days_late_365": 1,
                "mean_days_late_365": 1, "late_payments_365": 1, "overdue_amount": 1,
                "utilization": 1, "complaints_open": 1, "complaints_90": 1, "rating": -1,
                "rating_change": -1, "partner_feedback_365": -1, "company_age_years": -1},
    "churn": {"days_since_last_order": 1, "complaints_open": 1, "complaints_90": 1},
}

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    # Small categoricals (industry, segment, payment method) split one level against the
    # rest instead of LightGBM's many-vs-many search, which overfits a few thousand rows.
    "max_cat_to_onehot": 8, "min_data_per_group": 50, "cat_smooth": 10.0,
    # One thread: training shares the 2 cores with the API and the workers, and OpenMP's
    # busy waiting made 2 threads 10-20x slower than 1 with the machine busy (README).
    "verbose": -1, "num_threads": 1, "seed": 7, "deterministic": True,
}
MAX_ROUNDS = 2000
EARLY_STOPPING = 50
INNER_FOLDS = 3


def lgbm_params(features: Sequence[str], target: str, base: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    params = dict(base or BASE_PARAMS)
    known = DIRECTIONS.get(target, {})
    constraints = [known.get(name, 0) for name in features]
    if any(constraints):
        params["monotone_constraints"] = constraints
        params["monotone_constraints_method"] = "intermediate"
    return params


def _dataset(x: np.ndarray, y: np.ndarray, names: Sequence[str], categorical: Sequence[str],
             reference: lgb.Dataset | None = None) -> lgb.Dataset:
    return lgb.Dataset(x, y, feature_name=list(names),
                       categorical_feature=list(categorical) or "auto", reference=reference,
                       free_raw_data=False)


def train_lgbm(x: np.ndarray, y: np.ndarray, *, params: dict[str, Any], names: Sequence[str],
               categorical: Sequence[str], rounds: int) -> lgb.Booster:
    return lgb.train({**params, "metric": "auc"}, _dataset(x, y, names, categorical),
                     num_boost_round=rounds)


def inner_cv(x: np.ndarray, y: np.ndarray, *, params: dict[str, Any], names: Sequence[str],
             categorical: Sequence[str], folds: int = INNER_FOLDS, seed: int = 7
             ) -> tuple[float, int]:
    """Mean AUC over stratified inner folds and the rounds early stopping chose (scaled to
    the whole part)."""
    parts = _stratified_parts(y, folds, seed)
    aucs, rounds = [], []
    for k in range(folds):
        fit_rows, valid_rows = parts != k, parts == k
        train_set = _dataset(x[fit_rows], y[fit_rows], names, categorical)
        valid_set = _dataset(x[valid_rows], y[valid_rows], names, categorical, train_set)
        booster = lgb.train({**params, "metric": "auc"}, train_set,
                            num_boost_round=MAX_ROUNDS, valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
        best = int(booster.best_iteration or booster.current_iteration())
        aucs.append(metrics.auc(y[valid_rows],
                                np.asarray(booster.predict(x[valid_rows],
                                                           num_iteration=best))))
        rounds.append(best)
    return float(np.mean(aucs)), max(int(np.mean(rounds) * folds / (folds - 1)), 10)


def _stratified_parts(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = np.empty(len(y), dtype=int)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        parts[rng.permutation(rows)] = np.arange(len(rows)) % folds
    return parts


@dataclass
class Tuned:
    params: dict[str, Any]
    rounds: int
    inner_auc: float
    default_inner_auc: float
    trials: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def tune(x: np.ndarray, y: np.ndarray, *, names: Sequence[str], categorical: Sequence[str],
         base: dict[str, Any], trials: int, seconds: float, seed: int = 7,
         default: tuple[float, int] | None = None) -> Tuned:
    """A bounded Optuna search (TPE, seeded) over the usual LightGBM knobs; each trial is
    an inner cross-validation on these rows only. The defaults are the first trial, so the
    result is never worse than them on the inner folds."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    # ``default``: the defaults' inner-CV result when the caller has it already (same rows,
    # same seed), so it is not fitted twice.
    default_auc, default_rounds = default or inner_cv(x, y, params=base, names=names,
                                                      categorical=categorical, seed=seed)
    history = [{"trial": 0, "inner_auc": round(default_auc, 6), "rounds": default_rounds,
                "params": "defaults"}]
    best = (default_auc, base, default_rounds)
    left = seconds - (time.perf_counter() - started)
    if trials > 1 and left > 0:
        def objective(trial: optuna.Trial) -> float:
            params = {**base,
                      "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
                      "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
                      "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300,
                                                            log=True),
                      "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
                      "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
                      "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 50.0, log=True)}
            auc, rounds = inner_cv(x, y, params=params, names=names,
                                   categorical=categorical, seed=seed)
            trial.set_user_attr("rounds", rounds)
            return auc

        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials - 1, timeout=left)
        for t in study.trials:
            if t.value is None:
                continue
            history.append({"trial": t.number + 1, "inner_auc": round(t.value, 6),
                            "rounds": t.user_attrs.get("rounds"), "params": t.params})
            if t.value > best[0]:
                best = (t.value, {**base, **t.params}, int(t.user_attrs["rounds"]))
    return Tuned(params=best[1], rounds=best[2], inner_auc=round(best[0], 6),
                 default_inner_auc=round(default_auc, 6), trials=len(history),
                 seconds=round(time.perf_counter() - started, 3), history=history)


# --- baselines -------------------------------------------------------------------------

def fit_logistic(x: np.ndarray, y: np.ndarray, names: Sequence[str],
                 categorical: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Logistic regression on one-hot columns (categoricals, missing as its own level) and
    standardised numbers (median-imputed, with a missing indicator)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat_cols = [j for j, n in enumerate(names) if n in categorical]
    num_cols = [j for j, n in enumerate(names) if n not in categorical]
    parts: list[tuple[str, Any, list[int]]] = []
    if num_cols:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median",
                                                         add_indicator=True,
                                                         keep_empty_features=True),
                                           StandardScaler()), num_cols))
    if cat_cols:
        parts.append(("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value=-1),
                                           OneHotEncoder(handle_unknown="ignore")), cat_cols))
    model = make_pipeline(ColumnTransformer(parts), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(x, y)
    return lambda rows: np.asarray(model.predict_proba(rows)[:, 1])


@dataclass
class FoldResult:
    repeat: int
    fold: int
    model: str
    auc: float
    brier: float
    slope: float
    seconds: float


MODELS = ("lightgbm_default", "lightgbm_tuned", "woe_scorecard", "logistic", "blend")


def compare(x: np.ndarray, y: np.ndarray, *, names: Sequence[str], categorical: Sequence[str],
            target: str, repeats: int = 3, folds: int = 5, trials: int = 20,
            seconds: float = 30.0, seed: int = 7, models: Sequence[str] = MODELS,
            base: dict[str, Any] | None = None, tuner: Callable[..., Tuned] = tune
            ) -> dict[str, Any]:
    """Every model on the same repeated stratified folds. ``seconds`` and ``trials`` bound
    the tuning of each outer fold; each fold's tuning sees its training part only."""
    y = np.asarray(y, dtype=float)
    base = base or lgbm_params(names, target)
    results: list[FoldResult] = []
    oof = {m: np.full((repeats, len(y)), np.nan) for m in models}
    for r in range(repeats):
        parts = _stratified_parts(y, folds, seed + r)
        for k in range(folds):
            train_rows, test_rows = np.flatnonzero(parts != k), np.flatnonzero(parts == k)
            xt, yt, xv, yv = x[train_rows], y[train_rows], x[test_rows], y[test_rows]
            preds: dict[str, np.ndarray] = {}
            spent: dict[str, float] = {}
            default: tuple[float, int] | None = None
            if "lightgbm_default" in models:
                t0 = time.perf_counter()
                default = inner_cv(xt, yt, params=base, names=names, categorical=categorical,
                                   seed=seed + r)
                t_cv = time.perf_counter() - t0
                booster = train_lgbm(xt, yt, params=base, names=names,
                                     categorical=categorical, rounds=default[1])
                preds["lightgbm_default"] = np.asarray(booster.predict(xv))
                spent["lightgbm_default"] = time.perf_counter() - t0
            if "lightgbm_tuned" in models or "blend" in models:
                t0 = time.perf_counter()
                tuned = tuner(xt, yt, names=names, categorical=categorical, base=base,
                              trials=trials, seconds=seconds, seed=seed + r, default=default)
                if default is not None:  # the defaults' inner CV is part of the search
                    t0 -= t_cv
                booster = train_lgbm(xt, yt, params=tuned.params, names=names,
                                     categorical=categorical, rounds=tuned.rounds)
                preds["lightgbm_tuned"] = np.asarray(booster.predict(xv))
                spent["lightgbm_tuned"] = time.perf_counter() - t0
            if "woe_scorecard" in models or "blend" in models:
                t0 = time.perf_counter()
                card, _ = fit_scorecard(xt, yt, list(names), categorical=categorical)
                preds["woe_scorecard"] = card.predict(xv)
                spent["woe_scorecard"] = time.perf_counter() - t0
            if "logistic" in models:
                t0 = time.perf_counter()
                preds["logistic"] = fit_logistic(xt, yt, names, categorical)(xv)
                spent["logistic"] = time.perf_counter() - t0
            if "blend" in models:
                # The mean log-odds of tuned LightGBM and the WoE scorecard.
                preds["blend"] = calibration.sigmoid(
                    (calibration.logit(preds["lightgbm_tuned"])
                     + calibration.logit(preds["woe_scorecard"])) / 2)
                spent["blend"] = spent["lightgbm_tuned"] + spent["woe_scorecard"]
            for m in models:
                p = preds[m]
                oof[m][r, test_rows] = p
                _, s = calibration.slope(yv, p)
                results.append(FoldResult(r, k, m, metrics.auc(yv, p), metrics.brier(yv, p),
                                          s, spent[m]))
    return summarise(results, models=models, n=len(y), folds=folds) | {
        "repeats": repeats, "folds": folds, "oof": oof}


def summarise(results: list[FoldResult], *, models: Sequence[str], n: int, folds: int
              ) -> dict[str, Any]:
    def stat(values: list[float]) -> dict[str, float]:
        return {"mean": round(float(np.mean(values)), 4),
                "sd": round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 4)}

    table = {}
    for m in models:
        rows = [r for r in results if r.model == m]
        table[m] = {"auc": stat([r.auc for r in rows]), "brier": stat([r.brier for r in rows]),
                    "calibration_slope": stat([r.slope for r in rows]),
                    "seconds": stat([r.seconds for r in rows])}
    comparisons = []
    for reference in ("lightgbm_default", "logistic"):
        if reference not in models:
            continue
        for m in models:
            if m == reference:
                continue
            comparisons.append(paired(results, m, reference, folds=folds))
    return {"models": table, "comparisons": comparisons,
            "folds_detail": [r.__dict__ | {"auc": round(r.auc, 6), "brier": round(r.brier, 6),
                                           "slope": round(r.slope, 4),
                                           "seconds": round(r.seconds, 3)} for r in results]}


def paired(results: list[FoldResult], model: str, reference: str, *, folds: int
           ) -> dict[str, Any]:
    """AUC difference fold by fold, with the Nadeau-Bengio corrected spread for repeated
    cross-validation (folds share training rows, so the plain standard error is too small).
    Better or worse only when the difference is more than two corrected errors from 0."""
    by = {(r.repeat, r.fold, r.model): r.auc for r in results}
    diffs = np.array([by[(r.repeat, r.fold, model)] - r.auc for r in results
                      if r.model == reference and (r.repeat, r.fold, model) in by])
    mean = float(diffs.mean())
    var = float(diffs.var(ddof=1)) if len(diffs) > 1 else 0.0
    test_share = 1.0 / folds
    se = math.sqrt((1 / len(diffs) + test_share / (1 - test_share)) * var)
    verdict = ("better" if mean - 2 * se > 0 else "worse" if mean + 2 * se < 0
               else "within the noise")
    return {"model": model, "reference": reference, "auc_difference": round(mean, 4),
            "sd": round(math.sqrt(var), 4), "corrected_se": round(se, 4), "verdict": verdict}


def _fast_auc(y: np.ndarray, score: np.ndarray) -> float:
    from scipy.stats import rankdata

    n_bad = float(y.sum())
    n_good = len(y) - n_bad
    if n_bad == 0 or n_good == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))


def out_of_time(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                y_test: np.ndarray, *, names: Sequence[str], categorical: Sequence[str],
                base: dict[str, Any], trials: int, seconds: float, seed: int = 7,
                bootstraps: int = 200) -> dict[str, Any]:
    """Every model fitted on the training period and measured on the test period; the paired
    AUC differences get their spread from a bootstrap of the test rows (one split has no
    folds to repeat)."""
    preds: dict[str, np.ndarray] = {}
    spent: dict[str, float] = {}
    t0 = time.perf_counter()
    default = inner_cv(x_train, y_train, params=base, names=names, categorical=categorical,
                       seed=seed)
    t_cv = time.perf_counter() - t0
    preds["lightgbm_default"] = np.asarray(train_lgbm(
        x_train, y_train, params=base, names=names, categorical=categorical,
        rounds=default[1]).predict(x_test))
    spent["lightgbm_default"] = time.perf_counter() - t0
    t0 = time.perf_counter() - t_cv
    tuned = tune(x_train, y_train, names=names, categorical=categorical, base=base,
                 trials=trials, seconds=seconds, seed=seed, default=default)
    booster = train_lgbm(x_train, y_train, params=tuned.params, names=names,
                         categorical=categorical, rounds=tuned.rounds)
    preds["lightgbm_tuned"] = np.asarray(booster.predict(x_test))
    spent["lightgbm_tuned"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    card, binnings = fit_scorecard(x_train, y_train, list(names), categorical=categorical)
    preds["woe_scorecard"] = card.predict(x_test)
    spent["woe_scorecard"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds["logistic"] = fit_logistic(x_train, y_train, names, categorical)(x_test)
    spent["logistic"] = time.perf_counter() - t0
    preds["blend"] = calibration.sigmoid((calibration.logit(preds["lightgbm_tuned"])
                                          + calibration.logit(preds["woe_scorecard"])) / 2)
    spent["blend"] = spent["lightgbm_tuned"] + spent["woe_scorecard"]
    table = {}
    for m, p in preds.items():
        _, s = calibration.slope(y_test, p)
        table[m] = {"auc": round(_fast_auc(y_test, p), 4),
                    "brier": round(metrics.brier(y_test, p), 4),
                    "calibration_slope": round(s, 4), "seconds": round(spent[m], 3)}
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y_test), len(y_test)) for _ in range(bootstraps)]
    boot = {m: np.array([_fast_auc(y_test[d], p[d]) for d in draws]) for m, p in preds.items()}
    comparisons = []
    for reference in ("lightgbm_default", "logistic"):
        for m in preds:
            if m == reference:
                continue
            diff = boot[m] - boot[reference]
            mean = _fast_auc(y_test, preds[m]) - _fast_auc(y_test, preds[reference])
            sd = float(np.nanstd(diff, ddof=1))
            comparisons.append({
                "model": m, "reference": reference, "auc_difference": round(mean, 4),
                "sd": round(sd, 4),
                "verdict": ("better" if mean - 2 * sd > 0 else "worse" if mean + 2 * sd < 0
                            else "within the noise")})
    return {"models": table, "comparisons": comparisons,
            "spread": f"bootstrap of the test rows ({bootstraps} draws)",
            "candidates": {"lightgbm_tuned": booster, "tuning": tuned, "woe_scorecard": card,
                           "pd": preds,
                           "information_value": [
                               {"feature": b.feature, "iv": b.iv, "bins": b.n_bins}
                               for b in sorted(binnings, key=lambda b: -b.iv)]}}
