"""Metrics, the points convention and the built-in scorecard, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.scoring.features.definitions import FEATURE_INDEX, FEATURE_NAMES
from services.scoring.models import metrics
from services.scoring.models.scorecard import DEFAULT_SCORECARD, odds_points
from services.scoring.scores.points import OFFSET, pd_from_points, points_from_pd
from services.scoring.settings import get_scoring_settings


def test_auc_gini_ks_brier_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    # Pairs (bad, good): 3x3 = 9; bads above goods: 0.35>{0.1,0.2} (2), 0.8 (3), 0.9 (3) = 8.
    assert metrics.auc(y, score) == pytest.approx(8 / 9)
    assert metrics.gini(y, score) == pytest.approx(2 * 8 / 9 - 1)
    # Ties count half: one bad and one good with the same score.
    assert metrics.auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    # KS: at threshold 0.4 goods' CDF = 3/3, bads' = 1/3 -> 2/3.
    assert metrics.ks(y, score) == pytest.approx(2 / 3)
    assert metrics.brier(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(
        (0.04 + 0.16) / 2)


def test_calibration_and_psi() -> None:
    pd = np.linspace(0.01, 0.5, 100)
    y = (np.arange(100) % 10 == 0).astype(float)
    deciles = metrics.calibration_by_decile(y, pd)
    assert len(deciles) == 10 and deciles[0]["count"] == 10
    assert deciles[0]["predicted"] < deciles[-1]["predicted"]
    # PSI by hand: bins 0.5/0.5 vs 0.25/0.75.
    expected = 0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert metrics.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5))
    assert expected != 0
    same = metrics.reference_bins(np.random.default_rng(1).normal(size=5000))
    shares = metrics.bin_shares(np.random.default_rng(2).normal(size=5000), same["edges"])
    assert metrics.psi(same["shares"], shares) < 0.1
    shifted = metrics.bin_shares(np.random.default_rng(2).normal(1, 1, 5000), same["edges"])
    assert metrics.psi(same["shares"], shifted) > 0.25
    assert [metrics.psi_verdict(v) for v in (0.05, 0.2, 0.3)] == ["stable", "watch", "act"]


def test_points_convention() -> None:
    # 600 points at odds 50:1, and 20 points double the odds.
    assert points_from_pd(1 / 51) == 600
    assert points_from_pd(1 / 101) == 620
    assert points_from_pd(1 / 26) == 580
    assert pd_from_points(600) == pytest.approx(1 / 51)
    assert math.isclose(OFFSET, 600 - 20 / math.log(2) * math.log(50))


def test_scorecard_points_reasons_and_order() -> None:
    good = np.full((1, len(FEATURE_NAMES)), np.nan)
    for name, value in {"days_past_due": 0, "max_days_late_365": 0, "late_payments_365": 0,
                        "utilization": 0.2, "complaints_90": 0, "rating": 90,
                        "rating_change": 0, "sentiment_90": 0.5, "industry_outlook": 0.5,
                        "company_age_years": 20, "partner_feedback_365": 9}.items():
        good[0, FEATURE_INDEX[name]] = value
    bad = good.copy()
    bad[0, FEATURE_INDEX["days_past_due"]] = 75
    bad[0, FEATURE_INDEX["rating"]] = 30
    pd, reasons = DEFAULT_SCORECARD.score(np.vstack([good, bad]))
    assert pd[0] < 0.01 < 0.10 < pd[1]
    assert reasons[0] == []
    # 75 days past due (odds of default x12) costs 20 * log2(12) = 72 points and is the first
    # reason; the poor rating (x2.5: 26 points) the second.
    assert [r["feature"] for r in reasons[1][:2]] == ["days_past_due", "rating"]
    assert reasons[1][0]["points"] == -72 and reasons[1][1]["points"] == -26
    assert "days past due" in str(reasons[1][0]["text"]).lower()
    # Points add up: total points of the good row = base + sum of attribute points.
    total = DEFAULT_SCORECARD.base + DEFAULT_SCORECARD.points_matrix(good).sum()
    assert pd[0] == pytest.approx(pd_from_points(total))


def test_scorecard_is_anchored_at_the_base_rate_with_points_from_odds_ratios(
        monkeypatch: pytest.MonkeyPatch) -> None:
    neutral = np.full((1, len(FEATURE_NAMES)), np.nan)
    for attribute in DEFAULT_SCORECARD.attributes:
        ratio_one = [bound for bound, ratio in attribute.odds if ratio == 1.0]
        # A value inside the odds-ratio-1 range (just below its upper bound, or far above).
        neutral[0, FEATURE_INDEX[attribute.feature]] = (ratio_one[0] - 1e-3
                                                        if ratio_one[0] != math.inf else 1e9)
        # Every range's points are -PDO * log2(OR).
        assert [p for _, p in attribute.ranges] == [round(-20 * math.log2(r))
                                                    for _, r in attribute.odds]
    pd, reasons = DEFAULT_SCORECARD.score(neutral)
    assert DEFAULT_SCORECARD.points_matrix(neutral).sum() == 0 and reasons == [[]]
    assert pd[0] == pytest.approx(0.01, rel=1e-3)
    # Doubling the odds (OR 2) is 20 points: utilisation above 100 % (OR 2.5) costs 26.
    assert odds_points(2.0) == -20 and odds_points(0.5) == 20 and odds_points(2.5) == -26
    monkeypatch.setenv("RISKWATCH_SCORING_SCORECARD_BASE_RATE", "0.03")
    get_scoring_settings.cache_clear()
    try:
        assert DEFAULT_SCORECARD.score(neutral)[0][0] == pytest.approx(0.03, rel=1e-3)
    finally:
        monkeypatch.delenv("RISKWATCH_SCORING_SCORECARD_BASE_RATE")
        get_scoring_settings.cache_clear()
