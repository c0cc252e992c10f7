"""Scorers: the built-in scorecards and stored LightGBM models behind one interface, and which
of them score now (the champion per target, else the scorecard; challengers in shadow)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring.features.definitions import FEATURE_SET, FEATURE_SET_VERSION, describe
from services.scoring.features.service import FeatureFrame
from services.scoring.models.scorecard import SCORECARDS, Scorecard
from services.scoring.scores.points import FACTOR
from shared.models.scoring import ModelChampion, RiskModel

Reason = dict[str, Any]
TARGETS = ("default", "churn")


@dataclass
class ScoreResult:
    """PDs for every row, and the rows' reasons on demand: a scorer whose reasons are
    costly (LightGBM's contributions cost about a hundred predictions each) computes them
    only for the rows asked for."""

    pd: np.ndarray
    explain: Callable[[np.ndarray], list[list[Reason]]]
    # Reasons that need no more than the row (scorecards: a table lookup and a sentence, not
    # a hundred predictions): every changed score gets them when it is scored.
    cheap: bool = False

    def reasons_for(self, rows: np.ndarray) -> dict[int, list[Reason]]:
        rows = np.asarray(rows, dtype=np.int64)
        return dict(zip(rows.tolist(), self.explain(rows), strict=True)) if len(rows) else {}

    @property
    def reasons(self) -> list[list[Reason]]:
        """Every row's reasons (computes them all)."""
        return self.explain(np.arange(len(self.pd)))


class Scorer(Protocol):
    @property
    def target(self) -> str: ...
    @property
    def model_id(self) -> int | None: ...
    @property
    def model_version(self) -> str: ...
    @property
    def feature_set(self) -> str: ...
    @property
    def feature_set_version(self) -> int: ...

    def score(self, session: Session, frame: FeatureFrame) -> ScoreResult: ...


class ScorecardScorer:
    model_id: int | None = None
    feature_set = FEATURE_SET
    feature_set_version = FEATURE_SET_VERSION

    def __init__(self, card: Scorecard) -> None:
        self.card = card
        self.target = card.target
        self.model_version = card.model_version

    def score(self, session: Session, frame: FeatureFrame) -> ScoreResult:
        matrix = frame.matrix
        per_attribute = self.card.points_matrix(matrix)
        return ScoreResult(pd=self.card.pd_of(per_attribute), cheap=True,
                           explain=lambda rows: self.card.reasons_of(matrix[rows],
                                                                     per_attribute[rows]))


def contribution_reasons(names: list[str], values: np.ndarray, contrib: np.ndarray,
                         top: int = 3) -> list[list[Reason]]:
    """The features that raise risk most (positive log-odds), in points and in words."""
    out: list[list[Reason]] = []
    for i in range(contrib.shape[0]):
        row = contrib[i, :-1]  # the last column is the bias (expected value)
        reasons: list[Reason] = []
        for k in np.argsort(-row, kind="mergesort")[:top]:
            if row[k] <= 0:
                break
            value = values[i, k]
            points = -round(float(row[k]) * FACTOR)
            shown = "unknown" if math.isnan(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
            reasons.append({
                "feature": names[k],
                "value": None if math.isnan(value) else round(float(value), 4),
                "points": points,
                "log_odds": round(float(row[k]), 6),
                "text": f"{describe(names[k]).capitalize()}: {shown} ({points:+d} points)",
            })
        out.append(reasons)
    return out


# Threads LightGBM may use for reasons in this thread of work: one on the event path (many
# small batches beside the API processes), more in a rescoring job (explain_threads below).
_explain_threads: ContextVar[int] = ContextVar("explain_threads", default=1)


@contextmanager
def explain_threads(threads: int) -> Iterator[None]:
    """Reasons computed inside the block use ``threads`` threads: exact SHAP contributions
    were 72 % of a rescore after a promotion (bench.scoring b), and scale with threads."""
    token = _explain_threads.set(threads)
    try:
        yield
    finally:
        _explain_threads.reset(token)


class LightGbmScorer:
    def __init__(self, model: RiskModel) -> None:
        self.model_id: int | None = model.id
        self.target = model.target
        self.model_version = f"lgbm-{model.target}-{model.id}"
        self.feature_set = model.feature_set
        self.feature_set_version = model.feature_set_version
        self.features = list(model.features)
        self.categories = dict(model.categories or {})
        self.source = model.source
        # Platt scaling and the prior correction, both affine in the log-odds.
        calibration = (model.params or {}).get("calibration") or {}
        self.scale = float(calibration.get("a", 1.0))
        self.shift = float(calibration.get("b", 0.0))
        if (model.params or {}).get("family", "lightgbm") == "lightgbm":
            # Imported with the first tree model, not with this module: LightGBM brings
            # scikit-learn (1.5 s), which a process scoring with the scorecard never needs.
            import lightgbm as lgb

            self.booster = lgb.Booster(model_str=model.model_text)

    def matrix(self, session: Session, frame: FeatureFrame) -> np.ndarray:
        if self.source == "file":
            from services.scoring.models.file_training import attribute_matrix

            return attribute_matrix(session, frame.customer_ids, self.features, self.categories)
        from services.scoring.features.definitions import FEATURE_INDEX

        return frame.matrix[:, [FEATURE_INDEX[name] for name in self.features]]

    def score(self, session: Session, frame: FeatureFrame) -> ScoreResult:
        if len(frame) == 0:
            return ScoreResult(pd=np.zeros(0), explain=lambda rows: [])
        x = self.matrix(session, frame)
        raw = np.asarray(self.booster.predict(x, raw_score=True, num_threads=1))
        raw = self.scale * raw + self.shift  # the stored calibration, affine in log-odds
        pd = 1.0 / (1.0 + np.exp(-raw))
        return ScoreResult(pd=pd, explain=lambda rows: self.explain(x[rows]))

    def explain(self, x: np.ndarray) -> list[list[Reason]]:
        """Reasons for the rows of ``x`` (this model's columns): SHAP contributions, which
        cost about a hundred predictions each, so only where they are needed."""
        contrib = np.asarray(self.booster.predict(x, pred_contrib=True,
                                                  num_threads=_explain_threads.get()))
        if self.scale != 1.0 or self.shift != 0.0:  # reasons add up to the calibrated score
            contrib = contrib * self.scale
            contrib[:, -1] += self.shift
        return contribution_reasons(self.features, x, contrib)

    def explain_stored(self, session: Session, customer_id: str,
                       features: dict[str, Any]) -> list[Reason]:
        """Reasons for one customer from the feature vector stored when it was scored."""
        if self.source == "file":
            from services.scoring.models.file_training import attribute_matrix

            x = attribute_matrix(session, [customer_id], self.features, self.categories)
        else:
            x = np.array([[math.nan if features.get(name) is None else float(features[name])
                           for name in self.features]], dtype=np.float64)
        return self.explain(x)[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = np.asarray(self.booster.predict(x, raw_score=True, num_threads=1))
        return 1.0 / (1.0 + np.exp(-(self.scale * raw + self.shift)))


# Parsing a model's text is costly: one scorer per model per process. The key carries the
# creation time too, so a reused id (a restored or rebuilt database) never hits a stale entry.
_boosters: dict[tuple[int, str], LightGbmScorer] = {}
_lock = threading.Lock()


def _key(model_id: int, created_at: Any) -> tuple[int, str]:
    return (model_id, str(created_at))


def scorer_for_model(model: RiskModel) -> LightGbmScorer:
    key = _key(model.id, model.created_at)
    with _lock:
        scorer = _boosters.get(key)
        if scorer is None:
            scorer = _boosters[key] = _make_scorer(model)
        return scorer


def _make_scorer(model: RiskModel) -> LightGbmScorer:
    if (model.params or {}).get("family") == "woe_scorecard":
        from services.scoring.models.woe_scorer import WoeScorecardScorer

        return WoeScorecardScorer(model)
    return LightGbmScorer(model)


def scorer_for_id(session: Session, model_id: int, created_at: Any = None
                  ) -> LightGbmScorer | None:
    """The model's scorer; without ``created_at`` it is read (one short query)."""
    if created_at is None:
        created_at = session.scalar(select(RiskModel.created_at).where(RiskModel.id == model_id))
        if created_at is None:
            return None
    cached = _boosters.get(_key(model_id, created_at))
    if cached is not None:
        return cached
    model = session.get(RiskModel, model_id)
    return None if model is None else scorer_for_model(model)


def explain_stored(session: Session, *, target: str, model_id: int | None, customer_id: str,
                   features: dict[str, Any]) -> list[Reason] | None:
    """The reasons of a stored score, from the feature vector kept with it, by the model
    that scored it (the built-in scorecard when ``model_id`` is None). None if that model
    is gone."""
    if model_id is None:
        from services.scoring.features.definitions import FEATURE_NAMES

        row = np.array([[math.nan if features.get(name) is None else float(features[name])
                         for name in FEATURE_NAMES]], dtype=np.float64)
        return SCORECARDS[target].score(row)[1][0]
    scorer = scorer_for_id(session, model_id)
    return None if scorer is None else scorer.explain_stored(session, customer_id, features)


def champions(session: Session) -> dict[str, Scorer]:
    """The scorer per target: its champion model, else the built-in scorecard."""
    out: dict[str, Scorer] = {t: ScorecardScorer(SCORECARDS[t]) for t in TARGETS}
    rows = session.execute(
        select(ModelChampion.target, RiskModel.id, RiskModel.created_at)
        .join(RiskModel, RiskModel.id == ModelChampion.model_id)).all()
    for target, model_id, created_at in rows:
        scorer = scorer_for_id(session, model_id, created_at)
        if scorer is not None:
            out[target] = scorer
    return out


def challengers(session: Session) -> list[Scorer]:
    rows = session.execute(select(RiskModel.id, RiskModel.created_at)
                           .where(RiskModel.status == "challenger")).all()
    return [s for s in (scorer_for_id(session, i, c) for i, c in rows) if s is not None]
