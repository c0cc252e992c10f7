"""WoE binning and scorecards, tuning inside the folds, calibration and prior correction:
on constructed data whose right answers are known."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from services.scoring.features.definitions import FEATURE_NAMES
from services.scoring.features.service import FeatureFrame
from services.scoring.models import calibration, tuning
from services.scoring.models.woe import (
    MIN_BAD_SHARE,
    MIN_BIN_SHARE,
    WoeScorecard,
    bin_categorical,
    bin_numeric,
    fit_scorecard,
    iv_reading,
    logistic_fit,
)
from services.scoring.scores.engine import LightGbmScorer
from services.scoring.scores.points import FACTOR, OFFSET, PDO, pd_from_points
from shared.models import utcnow
from shared.models.scoring import RiskModel

# Quick to fit on a shared 2-core machine: what these tests check does not depend on speed.
FAST = {**tuning.BASE_PARAMS, "learning_rate": 0.2, "num_threads": 1}


def _population(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0, 100, n), rng.normal(0, 1, n), rng.integers(0, 4, n)])
    logit = -3.0 + 0.035 * x[:, 0] - 0.8 * x[:, 1] + np.array([0.0, 0.3, 0.9, -0.5])[
        x[:, 2].astype(int)]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, y


def test_numeric_bins_are_monotone_with_minimum_shares_and_a_missing_bin() -> None:
    x, y = _population(6000)
    values = x[:, 0].copy()
    values[:300] = np.nan  # 5 % missing: its own bin
    b = bin_numeric("dpd", values, y)
    rates = np.array(b.bads) / np.array(b.counts)
    assert b.trend == "increasing" and b.n_bins >= 3
    assert np.all(np.diff(rates) >= 0) and np.all(np.diff(b.woe) <= 0)
    assert min(b.counts) >= MIN_BIN_SHARE * len(y)
    assert min(b.bads) >= MIN_BAD_SHARE * y.sum()
    assert b.missing_count == 300 and sum(b.counts) + b.missing_count == len(y)
    # Bins are [edge_{k-1}, edge_k): a value on an edge belongs to the bin above it.
    edge = b.edges[0]
    assert list(b.index(np.array([edge - 1e-9, edge, np.nan]))) == [0, 1, -1]
    assert b.transform(np.array([np.nan]))[0] == b.missing_woe != 0.0
    # A zig-zag pattern is merged until the bad rate only moves one way.
    zig = np.where(values % 20 < 10, values, 100 - values)
    z = bin_numeric("zig", zig, y)
    zr = np.array(z.bads) / np.array(z.counts)
    assert np.all(np.diff(zr) >= 0) or np.all(np.diff(zr) <= 0)


def test_information_value_on_a_constructed_example() -> None:
    # Level 0: 400 goods, 100 bads; level 1: 100 goods, 400 bads. Shares 0.8/0.2 against
    # 0.2/0.8: WoE = +-ln 4, IV = 2 * 0.6 * ln 4 = 1.6636 (smoothing moves it by < 0.01).
    codes = np.array([0] * 500 + [1] * 500, dtype=float)
    y = np.array([0] * 400 + [1] * 100 + [0] * 100 + [1] * 400, dtype=float)
    b = bin_categorical("c", codes, y)
    assert b.iv == pytest.approx(2 * 0.6 * math.log(4), abs=0.01)
    assert iv_reading(b.iv).startswith("suspicious")
    assert sorted(b.woe) == pytest.approx([-math.log(4), math.log(4)], abs=0.01)
    # Independent of the outcome: nothing to read.
    flat = bin_categorical("f", np.array([0, 1] * 500, dtype=float),
                           np.array([0, 0, 1, 1] * 250, dtype=float))
    assert flat.iv < 0.02 and iv_reading(flat.iv) == "useless"
    assert [iv_reading(v) for v in (0.05, 0.2, 0.4)] == ["weak", "medium", "strong"]


def test_scorecard_points_follow_the_shared_convention_and_explain_the_score() -> None:
    x, y = _population(5000)
    x[::50, 1] = np.nan
    names = ["dpd", "rating", "segment"]
    card, binnings = fit_scorecard(x, y, names, categorical=["segment"])
    assert [b.feature for b in card.binnings] == names and all(b.iv > 0.02 for b in binnings)
    assert all(c < 0 for c in card.coefficients)  # a safer bin never costs points
    for j, b in enumerate(card.binnings):
        assert card.points[j] == [round(-FACTOR * card.coefficients[j] * w) for w in b.woe]
    assert card.base == pytest.approx(OFFSET - FACTOR * card.intercept, abs=1e-3)
    # The PD is the points read through the one scale; PDO points double the odds.
    total = card.total(x)
    np.testing.assert_allclose(card.predict(x), [pd_from_points(t) for t in total])
    odds = (1 - pd_from_points(600)) / pd_from_points(600)
    assert odds == pytest.approx(50.0) and (1 - pd_from_points(600 + PDO)) / pd_from_points(
        600 + PDO) == pytest.approx(100.0)
    # Rounded points stay within half a point per variable of the regression's log-odds.
    woe = np.column_stack([b.transform(x[:, j]) for j, b in enumerate(card.binnings)])
    exact = card.intercept + woe @ np.array(card.coefficients)
    assert np.max(np.abs(calibration.logit(card.predict(x)) - exact)) <= 1.5 / FACTOR + 1e-9
    # Points lost against the best bin: none for the best customer, most for the worst.
    lost = card.lost_points(x)
    best_total = card.base + sum(max([*p, m]) for p, m in zip(card.points,
                                                               card.missing_points,
                                                               strict=True))
    np.testing.assert_allclose(lost.sum(axis=1), best_total - total)
    assert lost.min() == 0 and lost[int(np.argmin(total))].sum() > 0
    again = WoeScorecard.from_json(card.to_json())
    np.testing.assert_array_equal(again.predict(x), card.predict(x))
    table = card.table({"segment": ["a", "b", "c", "d"]})
    assert table[2]["bins"][-1]["bin"] == "missing" and "reading" in table[0]


def test_prior_correction_restores_the_portfolio_rate_of_an_enriched_file() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 200_000)
    y = (rng.uniform(size=len(x)) < 1 / (1 + np.exp(-(-4.5 + 1.5 * x)))).astype(float)
    base_rate = float(y.mean())
    keep = (y == 1) | (rng.uniform(size=len(y)) < 0.1)  # every bad, a tenth of the goods
    intercept, coef = logistic_fit(x[keep, None], y[keep], l2=0.0)
    assert y[keep].mean() > 4 * base_rate
    shift = calibration.prior_shift(float(y[keep].mean()), base_rate)
    assert intercept + shift == pytest.approx(-4.5, abs=0.15)
    assert coef[0] == pytest.approx(1.5, abs=0.1)
    corrected = calibration.sigmoid(intercept + shift + coef[0] * x)
    assert corrected.mean() == pytest.approx(base_rate, rel=0.08)
    assert calibration.sigmoid(intercept + coef[0] * x).mean() > 3 * base_rate


def test_calibration_report_and_platt_on_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(5)
    true = 1 / (1 + np.exp(-rng.normal(-2.5, 1.0, 30_000)))
    y = (rng.uniform(size=len(true)) < true).astype(float)
    raw = 2 * calibration.logit(true) + 1  # too extreme and too high
    model_pd = calibration.sigmoid(raw)
    report = calibration.report(y, model_pd)
    assert report["slope"] == pytest.approx(0.5, abs=0.05)
    assert not all(row["within"] for row in report["deciles"])
    fitted = calibration.platt_if_it_helps(raw, y)
    assert fitted["applied"] and fitted["a"] == pytest.approx(0.5, abs=0.05)
    assert fitted["b"] == pytest.approx(-0.5, abs=0.15)
    fixed = calibration.sigmoid(fitted["a"] * raw + fitted["b"])
    assert sum(row["within"] for row in calibration.by_decile(y, fixed)) >= 8
    assert [row["group"] for row in calibration.by_tier(y, fixed)] == ["low", "medium",
                                                                      "high"]
    # A calibrated model is left alone.
    assert not calibration.platt_if_it_helps(calibration.logit(true), y)["applied"]
    assert calibration.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_tuning_never_sees_the_outer_test_rows() -> None:
    x, y = _population(600, seed=9)
    ids = np.arange(len(y), dtype=float)
    x = np.column_stack([x[:, :2], ids])  # the row id rides along as a column
    seen: list[set[int]] = []

    def recording(xt: np.ndarray, yt: np.ndarray, **kwargs: object) -> tuning.Tuned:
        seen.append({int(v) for v in xt[:, 2]})
        return tuning.tune(xt, yt, **kwargs)  # type: ignore[arg-type]

    result = tuning.compare(x, y, names=["dpd", "rating", "row"], categorical=[],
                            target="default", repeats=2, folds=3, trials=2, seconds=0.5,
                            models=("lightgbm_tuned",), tuner=recording, base=FAST)
    assert len(seen) == 6
    for call, rows in enumerate(seen):
        r, k = divmod(call, 3)
        test_rows = set(np.flatnonzero(tuning._stratified_parts(y, 3, 7 + r) == k).tolist())
        assert rows.isdisjoint(test_rows) and rows | test_rows == set(range(len(y)))
    assert result["models"]["lightgbm_tuned"]["auc"]["mean"] > 0.6
    assert np.isfinite(result["oof"]["lightgbm_tuned"]).all()


def test_tuning_keeps_the_defaults_unless_a_trial_beats_them() -> None:
    x, y = _population(1200, seed=4)
    tuned = tuning.tune(x, y, names=["dpd", "rating", "segment"], categorical=["segment"],
                        base=FAST, trials=3, seconds=10.0)
    assert tuned.trials >= 2 and tuned.inner_auc >= tuned.default_inner_auc
    assert tuned.history[0]["params"] == "defaults" and tuned.rounds >= 10


def test_monotone_constraints_hold_where_the_data_zigzags() -> None:
    rng = np.random.default_rng(2)
    dpd = rng.uniform(0, 120, 4000)
    other = rng.normal(0, 1, 4000)
    # Risk peaks at 20-40 days past due in this sample; a known direction forbids reading it.
    logit = -2.0 + 2.0 * ((dpd > 20) & (dpd < 40)) + 0.01 * dpd + 0.5 * other
    y = (rng.uniform(size=4000) < 1 / (1 + np.exp(-logit))).astype(float)
    x = np.column_stack([dpd, other])
    params = tuning.lgbm_params(["days_past_due", "sentiment_90"], "default")
    assert params["monotone_constraints"] == [1, 0]
    booster = tuning.train_lgbm(x, y, params={**params, "num_threads": 1},
                                names=["days_past_due", "sentiment_90"], categorical=[],
                                rounds=150)
    grid = np.column_stack([np.linspace(0, 120, 61), np.zeros(61)])
    assert np.all(np.diff(booster.predict(grid)) >= -1e-12)
    free = tuning.train_lgbm(x, y, params=FAST, names=["a", "b"],
                             categorical=[], rounds=150)
    assert np.any(np.diff(free.predict(grid)) < -1e-3)  # without it the zig-zag shows


def test_better_only_beyond_the_noise() -> None:
    rng = np.random.default_rng(1)
    results = []
    for r in range(3):
        for k in range(5):
            base = 0.75 + rng.normal(0, 0.03)  # folds differ a lot ...
            results += [tuning.FoldResult(r, k, "ref", base, 0.1, 1.0, 0.1),
                        tuning.FoldResult(r, k, "good", base + 0.02 + rng.normal(0, 0.003),
                                          0.1, 1.0, 0.1),  # ... the pair much less
                        tuning.FoldResult(r, k, "same", base + rng.normal(0, 0.01), 0.1,
                                          1.0, 0.1)]
    assert tuning.paired(results, "good", "ref", folds=5)["verdict"] == "better"
    assert tuning.paired(results, "same", "ref", folds=5)["verdict"] == "within the noise"
    assert tuning.paired(results, "ref", "good", folds=5)["verdict"] == "worse"


def test_a_calibrated_model_scores_and_explains_on_the_shifted_scale() -> None:
    rng = np.random.default_rng(6)
    names = list(FEATURE_NAMES)
    x = rng.normal(size=(800, len(names)))
    y = (rng.uniform(size=800) < calibration.sigmoid(-2 + 1.5 * x[:, 0])).astype(float)
    booster = tuning.train_lgbm(x, y, params=FAST, names=names, categorical=[], rounds=30)
    model = RiskModel(id=1, target="default", feature_set="core", feature_set_version=1,
                      features=names, categories={}, source="events",
                      params={"family": "lightgbm", "calibration": {"a": 0.5, "b": -1.0}},
                      model_text=booster.model_to_string())
    scorer = LightGbmScorer(model)
    frame = FeatureFrame(as_of=utcnow(), customer_ids=[f"c{i}" for i in range(5)],
                         matrix=x[:5], outstanding=[], overdue=[], credit_limit=[],
                         credit_currency=[], active=np.ones(5, bool),
                         in_default=np.zeros(5, bool), churned=np.zeros(5, bool))
    result = scorer.score(None, frame)  # type: ignore[arg-type]
    raw = booster.predict(x[:5], raw_score=True)
    np.testing.assert_allclose(result.pd, calibration.sigmoid(0.5 * raw - 1.0), rtol=1e-9)
    np.testing.assert_allclose(scorer.predict(x[:5]), result.pd, rtol=1e-9)
    contrib = booster.predict(x[:5], pred_contrib=True)
    risky = int(np.argmax(result.pd))
    first = result.reasons[risky][0]
    k = names.index(str(first["feature"]))
    assert first["log_odds"] == pytest.approx(0.5 * contrib[risky, k], abs=1e-6)


def test_the_default_cut_off_is_the_latest_with_outcomes_on_both_sides() -> None:
    from services.scoring.models.training import day_number, default_cutoff

    months = [dt.date(2025, m, 1) for m in range(1, 13)]  # twelve monthly snapshots
    days = np.array([day_number(m) for m in months for _ in range(10)])
    month_of = np.array([m.month for m in months for _ in range(10)])
    every_month = np.array([1.0 if i % 10 == 0 else 0.0 for i in range(len(days))])
    # Bads in every month: the third-last snapshot, with training snapshots whose 180-day
    # outcome window ends by it (January to April).
    assert default_cutoff(months, days, every_month, 180) == dt.date(2025, 10, 1)
    # No bad after August: a test period from October would have nothing to test on, so
    # the cut-off moves back to August (trained on January and February).
    until_august = np.where(month_of <= 8, every_month, 0.0)
    assert default_cutoff(months, days, until_august, 180) == dt.date(2025, 8, 1)
    # Bads only in December: no cut-off works; the third-last, which training refuses.
    december = np.where(month_of == 12, every_month, 0.0)
    assert default_cutoff(months, days, december, 180) == dt.date(2025, 10, 1)
