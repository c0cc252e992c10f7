"""The built-in transparent scorecards: points per attribute, summed onto a base, read as PD
through the one points convention (scores/points.py). They score every customer until a
trained model is promoted, so a fresh install works.

Each attribute is a feature cut into ranges; a range carries points (negative = riskier).
An unknown value scores the attribute's ``missing`` points. Reasons are the attributes that
cost the most points, said in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.scoring.features.definitions import FEATURE_INDEX, describe
from services.scoring.scores.points import FACTOR, OFFSET

Reason = dict[str, object]


@dataclass(frozen=True)
class Attribute:
    feature: str
    # (upper bound, exclusive; points) in ascending order; the last bound is +inf.
    ranges: tuple[tuple[float, int], ...]
    missing: int = 0
    unit: str = ""

    def points(self, values: np.ndarray) -> np.ndarray:
        bounds = np.array([b for b, _ in self.ranges[:-1]])
        pts = np.array([p for _, p in self.ranges])
        idx = np.searchsorted(bounds, np.nan_to_num(values, nan=0.0), side="right")
        return np.where(np.isnan(values), self.missing, pts[idx])


INF = math.inf


@dataclass(frozen=True)
class Scorecard:
    name: str
    target: str
    version: int
    base: int
    attributes: tuple[Attribute, ...]

    @property
    def model_version(self) -> str:
        return f"scorecard-{self.target}-v{self.version}"

    def points_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Points per attribute, shape (customers, attributes)."""
        return np.column_stack([a.points(matrix[:, FEATURE_INDEX[a.feature]])
                                for a in self.attributes])

    def score(self, matrix: np.ndarray, *, top: int = 3) -> tuple[np.ndarray, list[list[Reason]]]:
        per_attribute = self.points_matrix(matrix)
        total = self.base + per_attribute.sum(axis=1)
        pd = 1.0 / (1.0 + np.exp((total - OFFSET) / FACTOR))
        # The `top` attributes costing most points per customer, found for all rows at once.
        order = np.argsort(per_attribute, axis=1, kind="stable")[:, :top]
        costs = np.take_along_axis(per_attribute, order, axis=1)
        columns = [FEATURE_INDEX[a.feature] for a in self.attributes]
        reasons: list[list[Reason]] = []
        for i in range(len(matrix)):
            out: list[Reason] = []
            for k, points in zip(order[i].tolist(), costs[i].tolist(), strict=True):
                if points >= 0:
                    break
                feature = self.attributes[k].feature
                value = float(matrix[i, columns[k]])
                out.append({"feature": feature,
                            "value": None if math.isnan(value) else round(value, 4),
                            "points": int(points),
                            "text": _sentence(feature, value, int(points))})
            reasons.append(out)
        return pd, reasons


def _sentence(feature: str, value: float, points: int) -> str:
    shown = "unknown" if math.isnan(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{describe(feature).capitalize()}: {shown} ({points:+d} points)"


DEFAULT_SCORECARD = Scorecard(
    name="built-in default-risk scorecard", target="default", version=1, base=590,
    attributes=(
        Attribute("days_past_due", ((1, 8), (31, -15), (61, -40), (91, -75), (INF, -100))),
        Attribute("max_days_late_365", ((1, 10), (16, 0), (31, -10), (61, -25), (INF, -40))),
        Attribute("late_payments_365", ((1, 5), (3, 0), (6, -10), (INF, -20))),
        Attribute("utilization", ((0.5, 5), (0.8, 0), (1.0, -15), (INF, -30)), missing=0),
        Attribute("complaints_90", ((1, 5), (2, -5), (4, -15), (INF, -25))),
        Attribute("rating", ((25, -40), (40, -25), (55, -10), (70, 5), (85, 15), (INF, 25)),
                  missing=-5),
        Attribute("rating_change", ((-15, -15), (-5, -5), (INF, 0))),
        Attribute("sentiment_90", ((-0.3, -15), (0.3, 0), (INF, 5))),
        Attribute("industry_outlook", ((-0.3, -15), (0.3, 0), (INF, 5))),
        Attribute("company_age_years", ((2, -15), (5, -5), (10, 0), (INF, 10)), missing=-5),
        Attribute("partner_feedback_365", ((4, -10), (8, 0), (INF, 5))),
    ),
)

CHURN_SCORECARD = Scorecard(
    name="built-in churn-risk scorecard", target="churn", version=1, base=545,
    attributes=(
        Attribute("days_since_last_order", ((31, 10), (61, 0), (121, -20), (INF, -45)),
                  missing=-10),
        Attribute("order_trend", ((-1.0, -25), (-0.3, -10), (0.3, 0), (INF, 5))),
        Attribute("order_count_90", ((1, -15), (3, 0), (INF, 10))),
        Attribute("complaints_90", ((1, 5), (2, -5), (4, -15), (INF, -25))),
        Attribute("complaints_open", ((1, 0), (2, -5), (INF, -15))),
        Attribute("relationship_days", ((180, -10), (730, 0), (INF, 10)), missing=-5),
        Attribute("partner_feedback_365", ((4, -10), (8, 0), (INF, 5))),
    ),
)

SCORECARDS = {"default": DEFAULT_SCORECARD, "churn": CHURN_SCORECARD}
