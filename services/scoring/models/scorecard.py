"""The built-in transparent scorecards: points per attribute, summed onto a base, read as PD
through the one points convention (scores/points.py). They score every customer until a
trained model is promoted, so a fresh install works.

Each attribute is a feature cut into ranges; a range carries points (negative = riskier).
An unknown value scores the attribute's ``missing`` points. Reasons are the attributes that
cost the most points, said in words.

The default-risk card is anchored: a neutral customer (every attribute in its odds-ratio-1
range) scores the base, which sits at the portfolio's base rate (setting
``RISKWATCH_SCORING_SCORECARD_BASE_RATE``, default 1 %). Every other range is an odds ratio
against neutral, and its points are ``-PDO * log2(OR)``: a signal that doubles the odds of
default costs 20 points, one that halves them earns 20.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.scoring.features.definitions import FEATURE_INDEX, describe
from services.scoring.scores.points import FACTOR, OFFSET, PDO
from services.scoring.settings import get_scoring_settings

Reason = dict[str, object]


def odds_points(odds_ratio: float) -> int:
    """Points of a signal with this odds ratio of default against a neutral customer."""
    return round(-PDO * math.log2(odds_ratio))


def anchor_points(base_rate: float) -> float:
    """The points at which PD equals ``base_rate``."""
    return round(OFFSET + FACTOR * math.log((1 - base_rate) / base_rate), 3)


@dataclass(frozen=True)
class Attribute:
    feature: str
    # (upper bound, exclusive; points) in ascending order; the last bound is +inf.
    ranges: tuple[tuple[float, int], ...]
    missing: int = 0
    unit: str = ""
    # (upper bound, odds ratio of default against neutral) when the points come from them.
    odds: tuple[tuple[float, float], ...] = ()
    missing_odds: float = 1.0

    def points(self, values: np.ndarray) -> np.ndarray:
        bounds = np.array([b for b, _ in self.ranges[:-1]])
        pts = np.array([p for _, p in self.ranges])
        idx = np.searchsorted(bounds, np.nan_to_num(values, nan=0.0), side="right")
        return np.where(np.isnan(values), self.missing, pts[idx])


INF = math.inf


def by_odds(feature: str, odds: tuple[tuple[float, float], ...],
            missing_odds: float = 1.0) -> Attribute:
    return Attribute(feature, tuple((bound, odds_points(ratio)) for bound, ratio in odds),
                     odds_points(missing_odds), odds=odds, missing_odds=missing_odds)


@dataclass(frozen=True)
class Scorecard:
    name: str
    target: str
    version: int
    fixed_base: int | None  # None: anchored at the portfolio's base rate (setting)
    attributes: tuple[Attribute, ...]

    @property
    def base(self) -> float:
        if self.fixed_base is not None:
            return self.fixed_base
        return anchor_points(get_scoring_settings().scorecard_base_rate)

    @property
    def model_version(self) -> str:
        return f"scorecard-{self.target}-v{self.version}"

    def points_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Points per attribute, shape (customers, attributes)."""
        return np.column_stack([a.points(matrix[:, FEATURE_INDEX[a.feature]])
                                for a in self.attributes])

    def score(self, matrix: np.ndarray, *, top: int = 3) -> tuple[np.ndarray, list[list[Reason]]]:
        """Every row's PD and reasons."""
        per_attribute = self.points_matrix(matrix)
        return self.pd_of(per_attribute), self.reasons_of(matrix, per_attribute, top=top)

    def pd_of(self, per_attribute: np.ndarray) -> np.ndarray:
        """PDs from :meth:`points_matrix`."""
        total = self.base + per_attribute.sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp((total - OFFSET) / FACTOR)))

    def reasons_of(self, matrix: np.ndarray, per_attribute: np.ndarray, *,
                   top: int = 3) -> list[list[Reason]]:
        """Reasons of the rows of ``matrix`` (and their rows of :meth:`points_matrix`). The
        sentences cost twenty times the points: a rescore asks only for the scores that
        changed."""
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
        return reasons


def _sentence(feature: str, value: float, points: int) -> str:
    shown = "unknown" if math.isnan(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{describe(feature).capitalize()}: {shown} ({points:+d} points)"


# Odds ratios of default against a neutral customer (OR 1, 0 points), by expert judgement
# kept modest because the signals overlap (late payments show in several of them).
DEFAULT_SCORECARD = Scorecard(
    name="built-in default-risk scorecard", target="default", version=2, fixed_base=None,
    attributes=(
        by_odds("days_past_due", ((1, 1.0), (31, 2.5), (61, 6.0), (91, 12.0), (INF, 25.0))),
        by_odds("max_days_late_365", ((1, 1.0), (16, 1.2), (31, 1.5), (61, 2.0), (INF, 3.0))),
        by_odds("late_payments_365", ((1, 1.0), (3, 1.1), (6, 1.4), (INF, 2.0))),
        by_odds("utilization", ((0.5, 1.0), (0.8, 1.1), (1.0, 1.5), (INF, 2.5))),
        by_odds("complaints_90", ((1, 1.0), (2, 1.2), (4, 1.5), (INF, 2.0))),
        by_odds("rating", ((25, 4.0), (40, 2.5), (55, 1.5), (70, 1.0), (85, 0.7), (INF, 0.5)),
                missing_odds=1.2),
        by_odds("rating_change", ((-15, 1.7), (-5, 1.2), (INF, 1.0))),
        by_odds("sentiment_90", ((-0.3, 1.5), (0.3, 1.0), (INF, 0.85))),
        by_odds("industry_outlook", ((-0.3, 1.5), (0.3, 1.0), (INF, 0.85))),
        by_odds("company_age_years", ((2, 1.7), (5, 1.2), (10, 1.0), (INF, 0.8)),
                missing_odds=1.2),
        by_odds("partner_feedback_365", ((4, 1.4), (8, 1.0), (INF, 0.85))),
    ),
)

CHURN_SCORECARD = Scorecard(
    name="built-in churn-risk scorecard", target="churn", version=1, fixed_base=545,
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
