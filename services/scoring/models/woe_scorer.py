"""A stored WoE scorecard as a scorer: the same inputs as a LightGBM model of its source
(point-in-time features or a file's columns read from customers), points per bin summed onto
the base, reasons from the points lost against each variable's best bin."""

from __future__ import annotations

import json
import math

import numpy as np
from sqlalchemy.orm import Session

from services.scoring.features.definitions import describe
from services.scoring.features.service import FeatureFrame
from services.scoring.models.woe import WoeScorecard
from services.scoring.scores.engine import LightGbmScorer, Reason, ScoreResult
from shared.models.scoring import RiskModel


class WoeScorecardScorer(LightGbmScorer):
    def __init__(self, model: RiskModel) -> None:
        super().__init__(model)
        self.model_version = f"woe-{model.target}-{model.id}"
        self.card = WoeScorecard.from_json(json.loads(model.model_text))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.card.predict(x)

    def score(self, session: Session, frame: FeatureFrame) -> ScoreResult:
        if len(frame) == 0:
            return ScoreResult(pd=np.zeros(0), explain=lambda rows: [])
        x = self.matrix(session, frame)
        # Points lost per bin are a table lookup: cheap enough to explain every row.
        return ScoreResult(pd=self.card.predict(x), explain=lambda rows: self.reasons(x[rows]),
                           cheap=True)

    def explain(self, x: np.ndarray) -> list[list[Reason]]:
        return self.reasons(x)

    def reasons(self, x: np.ndarray, top: int = 3) -> list[list[Reason]]:
        lost = self.card.lost_points(x)
        columns = [self.features.index(b.feature) for b in self.card.binnings]
        out: list[list[Reason]] = []
        for i in range(len(x)):
            reasons: list[Reason] = []
            for k in np.argsort(-lost[i], kind="mergesort")[:top]:
                if lost[i, k] <= 0:
                    break
                name = self.card.binnings[k].feature
                value = float(x[i, columns[k]])
                levels = self.categories.get(name)
                shown = ("unknown" if math.isnan(value) else
                         levels[int(value)] if levels and 0 <= value < len(levels) else
                         f"{value:,.2f}".rstrip("0").rstrip("."))
                points = -int(lost[i, k])
                reasons.append({"feature": name,
                                "value": None if math.isnan(value) else round(value, 4),
                                "points": points,
                                "text": f"{describe(name).capitalize()}: {shown} "
                                        f"({points:+d} points against the best bin)"})
            out.append(reasons)
        return out
