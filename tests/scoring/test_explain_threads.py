"""Reasons computed on several threads (a rescoring job's) are the reasons computed on one
(the event path's), and the thread count holds only inside its block."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from services.scoring.features.definitions import FEATURE_NAMES
from services.scoring.scores import engine
from shared.models.scoring import RiskModel


def _scorer() -> engine.LightGbmScorer:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, len(FEATURE_NAMES)))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=2000) > 0.5).astype(float)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15},
                        lgb.Dataset(x, y), 40)
    model = RiskModel(id=1, target="default", source="events", feature_set="core",
                      feature_set_version=1, features=list(FEATURE_NAMES), categories={},
                      params={}, model_text=booster.model_to_string())
    return engine.LightGbmScorer(model)


def test_reasons_on_two_threads_are_the_reasons_on_one() -> None:
    scorer = _scorer()
    x = np.random.default_rng(8).normal(size=(500, len(FEATURE_NAMES)))
    one = scorer.explain(x)
    with engine.explain_threads(2):
        two = scorer.explain(x)
        assert engine._explain_threads.get() == 2
    assert engine._explain_threads.get() == 1
    assert two == one
    assert any(reasons for reasons in one)  # the model does explain something
