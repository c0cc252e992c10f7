"""Are the PDs right in level, not only in order? Observed vs predicted per decile and per tier
with a binomial (Wilson) interval, the calibration slope, Platt scaling fitted out of fold,
and the prior correction of a model trained on a file enriched with bads.

Platt scaling and the prior correction are both affine in the log-odds (``a * raw + b``), so
a calibrated model keeps its reasons: contributions scale by ``a`` and still sum to the
score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.scoring.models.woe import logistic_fit

Z95 = 1.959964
TIER_EDGES = (0.02, 0.10)  # the default tier thresholds (tiers/schemas.py)
_EPS = 1e-6


def logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def wilson(bads: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = bads / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _row(label: str, y: np.ndarray, pd: np.ndarray) -> dict[str, Any]:
    n, bads = int(len(y)), int(y.sum())
    low, high = wilson(bads, n)
    predicted = float(pd.mean()) if n else 0.0
    return {"group": label, "count": n, "bads": bads, "predicted": round(predicted, 6),
            "observed": round(bads / n, 6) if n else None,
            "interval": [round(low, 6), round(high, 6)],
            "within": bool(n and low <= predicted <= high)}


def by_decile(y: np.ndarray, pd: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    order = np.argsort(pd, kind="mergesort")
    return [_row(f"decile {k + 1}", y[chunk], pd[chunk])
            for k, chunk in enumerate(np.array_split(order, bins)) if len(chunk)]


def by_tier(y: np.ndarray, pd: np.ndarray, edges: Sequence[float] = TIER_EDGES
            ) -> list[dict[str, Any]]:
    tier = np.searchsorted(np.asarray(edges), pd, side="right")
    return [_row(name, y[tier == k], pd[tier == k])
            for k, name in enumerate(("low", "medium", "high"))]


def slope(y: np.ndarray, pd: np.ndarray) -> tuple[float, float]:
    """Calibration intercept and slope: logistic regression of the outcome on the model's
    log-odds. A slope of 1 is right; below 1 the PDs are too extreme."""
    intercept, coef = logistic_fit(logit(pd)[:, None], np.asarray(y, dtype=float), l2=0.0)
    return intercept, float(coef[0])


def log_loss(y: np.ndarray, pd: np.ndarray) -> float:
    q = np.clip(pd, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) so that sigmoid(a * raw + b) is calibrated on these rows."""
    b, a = logistic_fit(np.asarray(raw, dtype=float)[:, None], np.asarray(y, dtype=float),
                        l2=0.0)
    return float(a[0]), b


def platt_if_it_helps(raw_oof: np.ndarray, y: np.ndarray, *, folds: int = 5,
                      seed: int = 7) -> dict[str, Any]:
    """Fit Platt scaling on out-of-fold log-odds; keep it only if it lowers the log loss
    measured by cross-fitting (each part calibrated by a fit on the other parts)."""
    raw_oof = np.asarray(raw_oof, dtype=float)
    y = np.asarray(y, dtype=float)
    parts = np.random.default_rng(seed).permutation(len(y)) % folds
    crossed = np.empty(len(y))
    for k in range(folds):
        fit_rows = parts != k
        a, b = platt(raw_oof[fit_rows], y[fit_rows])
        crossed[~fit_rows] = sigmoid(a * raw_oof[~fit_rows] + b)
    before, after = log_loss(y, sigmoid(raw_oof)), log_loss(y, crossed)
    a, b = platt(raw_oof, y)
    helps = after < before - 1e-4
    return {"method": "platt", "applied": bool(helps), "a": round(a, 6) if helps else 1.0,
            "b": round(b, 6) if helps else 0.0, "fitted_a": round(a, 6),
            "fitted_b": round(b, 6), "log_loss_before": round(before, 6),
            "log_loss_after": round(after, 6)}


def prior_shift(sample_rate: float, base_rate: float) -> float:
    """Log-odds to add so a model fitted where bads are ``sample_rate`` of the rows predicts
    for a portfolio where they are ``base_rate`` (the intercept correction for outcome-based
    sampling: goods and bads kept at different rates leave the slopes unchanged)."""
    return float(logit(base_rate) - logit(sample_rate))


def report(y: np.ndarray, pd: np.ndarray, edges: Sequence[float] = TIER_EDGES
           ) -> dict[str, Any]:
    intercept, s = slope(y, pd)
    return {"deciles": by_decile(y, pd), "tiers": by_tier(y, pd, edges),
            "slope": round(s, 4), "intercept": round(intercept, 4),
            "mean_predicted": round(float(np.mean(pd)), 6),
            "observed_rate": round(float(np.mean(y)), 6)}
