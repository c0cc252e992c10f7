"""Model metrics by hand with numpy (small and central): AUC, Gini, KS, Brier, calibration by
decile, and the population stability index."""

from __future__ import annotations

from typing import Any

import numpy as np


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    i = 0
    n = len(values)
    while i < n:
        j = i
        while j + 1 < n and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Probability that a random bad scores above a random good (Mann-Whitney U)."""
    y = np.asarray(y, dtype=bool)
    n_bad, n_good = int(y.sum()), int((~y).sum())
    if n_bad == 0 or n_good == 0:
        return float("nan")
    ranks = _ranks(np.asarray(score, dtype=float))
    return float((ranks[y].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))


def gini(y: np.ndarray, score: np.ndarray) -> float:
    return 2 * auc(y, score) - 1


def ks(y: np.ndarray, score: np.ndarray) -> float:
    """Largest gap between the score distributions of bads and goods."""
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    if y.all() or (~y).all():
        return float("nan")
    thresholds = np.unique(score)
    bad_cdf = np.searchsorted(np.sort(score[y]), thresholds, side="right") / y.sum()
    good_cdf = np.searchsorted(np.sort(score[~y]), thresholds, side="right") / (~y).sum()
    return float(np.max(np.abs(bad_cdf - good_cdf)))


def brier(y: np.ndarray, pd: np.ndarray) -> float:
    return float(np.mean((np.asarray(pd, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def calibration_by_decile(y: np.ndarray, pd: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted vs observed bad rate in ten equal-count groups, lowest risk first."""
    order = np.argsort(pd, kind="mergesort")
    out = []
    for k, chunk in enumerate(np.array_split(order, bins)):
        if len(chunk) == 0:
            continue
        out.append({"decile": k + 1, "count": int(len(chunk)),
                    "predicted": round(float(np.mean(pd[chunk])), 6),
                    "observed": round(float(np.mean(y[chunk])), 6)})
    return out


def reference_bins(values: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Quantile edges of a training distribution and the share in each bin (for PSI)."""
    clean = values[~np.isnan(values)]
    if len(clean) == 0:
        return {"edges": [], "shares": [], "missing": 1.0}
    edges = np.unique(np.quantile(clean, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"edges": [float(e) for e in edges],
            "shares": [float(s) for s in bin_shares(clean, edges)],
            "missing": float(np.isnan(values).mean())}


def bin_shares(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"),
                         minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def psi(expected: np.ndarray | list[float], actual: np.ndarray | list[float],
        floor: float = 1e-4) -> float:
    """Population stability index: sum((a - e) * ln(a / e)) over bins."""
    e = np.maximum(np.asarray(expected, dtype=float), floor)
    a = np.maximum(np.asarray(actual, dtype=float), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_verdict(value: float) -> str:
    if value < 0.1:
        return "stable"
    return "watch" if value <= 0.25 else "act"
