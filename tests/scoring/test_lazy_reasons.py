"""Reasons where they are needed: a rescore explains the scores that moved materially, keeps
the reasons of unchanged scores, leaves the rest to be explained on first read (and keeps
them then); a rescore after a promotion scores the stored feature vectors first and explains
the moved ones after, before alerts and reviews are told."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from services.scoring.features.definitions import FEATURE_INDEX, FEATURE_NAMES, FEATURE_SET
from services.scoring.features.service import features_all
from services.scoring.jobs.rescore import run_rescore
from services.scoring.scores.points import FACTOR
from services.scoring.simulator.loader import load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from services.scoring.tiers.schemas import DEFAULT_STRATEGIES, TierConfigIn
from services.scoring.tiers.service import put_config
from shared.db import Database
from shared.models import WorkItem, utcnow
from shared.models.scoring import CustomerRisk, ModelChampion, RiskModel, Score, ScoringJob
from shared.topics import ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED, SCORING_EXPLAIN
from tests.scoring.conftest import READ, drain


def _rescore(db: Database, **request: Any) -> dict[str, Any]:
    job = ScoringJob(kind="rescore", request={"filter": {}, "trigger": "test", **request},
                     created_by="test")
    return run_rescore(db, job, lambda *_a, **_k: None)


@pytest.fixture
def champion(db: Database) -> lgb.Booster:
    """A LightGBM default champion trained on the simulated portfolio's own features."""
    load_into_database(db, simulate(SimConfig(customers=120, months=12, seed=8,
                                              end=dt.date(2026, 6, 1))))
    with db.transaction() as session:
        frame = features_all(session, as_of=utcnow())
    days_past_due = np.nan_to_num(frame.column("days_past_due"))
    y = (days_past_due > np.quantile(days_past_due, 0.9)).astype(float)  # a tenth go bad
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1,
                         "min_data_in_leaf": 5}, lgb.Dataset(frame.matrix, y), 20)
    with db.transaction() as session:
        model = RiskModel(name="test", target="default", source="events", status="champion",
                          feature_set=FEATURE_SET, feature_set_version=1,
                          features=list(FEATURE_NAMES), categories={},
                          model_text=booster.model_to_string(), created_by="test")
        session.add(model)
        session.flush()
        session.add(ModelChampion(target="default", model_id=model.id, promoted_by="test"))
    return booster


def _risks(db: Database) -> dict[str, CustomerRisk]:
    with db.transaction() as session:
        return {r.customer_id: r for r in session.scalars(select(CustomerRisk))}


def test_moved_scores_are_explained_now_the_rest_on_first_read(
        db: Database, client: TestClient, champion: lgb.Booster) -> None:
    _rescore(db)
    risks = _risks(db)
    explained = [r for r in risks.values() if r.reasons is not None]
    pending = [r for r in risks.values() if r.reasons is None]
    # New customers outside the low tier moved materially: explained at once.
    assert explained and all(r.tier != "low" or r.in_default for r in explained)
    assert pending and all(r.tier == "low" for r in pending)

    risk = pending[0]
    answer = client.get(f"/v1/customers/{risk.customer_id}/risk", headers=READ)
    assert answer.status_code == 200
    reasons = answer.json()["reasons"]
    x = np.array([[np.nan if risk.features[n] is None else risk.features[n]
                   for n in FEATURE_NAMES]])
    contrib = champion.predict(x, pred_contrib=True)[0, :-1]
    top = int(np.argmax(contrib))
    kept = _risks(db)[risk.customer_id].reasons  # kept for the next reader
    assert kept is not None and [r["text"] for r in kept] == [r["text"] for r in reasons]
    if contrib[top] > 0:
        assert reasons[0]["feature"] == FEATURE_NAMES[top]
        assert reasons[0]["points"] == -round(contrib[top] * FACTOR)
        assert kept[0]["log_odds"] == pytest.approx(contrib[top], abs=1e-6)
    else:
        assert reasons == []  # nothing raises this customer's risk

    # A rescore with nothing new keeps every reason it already had.
    _rescore(db)
    again = _risks(db)
    assert again[risk.customer_id].reasons == kept
    assert all(again[r.customer_id].reasons == r.reasons for r in explained)


def test_a_rescore_after_promotion_scores_the_stored_vectors(
        db: Database, champion: lgb.Booster) -> None:
    _rescore(db)
    before = _risks(db)
    result = _rescore(db, features="stored")
    assert result == {"customers": len(before), "filter": {}, "features": "stored"}
    after = _risks(db)
    ids = sorted(after)
    stored = np.array([[np.nan if before[c].features[n] is None else before[c].features[n]
                        for n in FEATURE_NAMES] for c in ids])
    expected = champion.predict(stored)
    in_default = np.array([after[c].in_default for c in ids])
    expected[in_default] = 1.0
    np.testing.assert_allclose([after[c].pd_default for c in ids], expected, rtol=1e-9)
    assert all(after[c].scored_at > before[c].scored_at for c in ids)
    assert all(after[c].features == before[c].features for c in ids)
    assert stored[:, FEATURE_INDEX["days_past_due"]].max() > 0  # a portfolio with arrears


def _pending(db: Database, topic: str) -> dict[str, dict[str, Any]]:
    with db.transaction() as session:
        return {item.key: item.payload for item in session.scalars(
            select(WorkItem).where(WorkItem.topic == topic, WorkItem.status == "pending"))}


def _promote_a_riskier_model(db: Database) -> lgb.Booster:
    """A successor champion that calls twice as many customers bad: most scores move."""
    with db.transaction() as session:
        frame = features_all(session, as_of=utcnow())
    days_past_due = np.nan_to_num(frame.column("days_past_due"))
    y = (days_past_due > np.quantile(days_past_due, 0.8)).astype(float)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1,
                         "min_data_in_leaf": 5}, lgb.Dataset(frame.matrix, y), 20)
    with db.transaction() as session:
        model = RiskModel(name="successor", target="default", source="events",
                          status="champion", feature_set=FEATURE_SET, feature_set_version=1,
                          features=list(FEATURE_NAMES), categories={},
                          model_text=booster.model_to_string(), created_by="test")
        session.add(model)
        session.flush()
        session.get(ModelChampion, "default").model_id = model.id  # type: ignore[union-attr]
    return booster


def test_a_promotion_rescore_scores_first_and_explains_after(
        db: Database, champion: lgb.Booster) -> None:
    _rescore(db)
    drain(db)
    _empty_score_notices(db)
    successor = _promote_a_riskier_model(db)

    _rescore(db, features="stored")
    scored = _risks(db)
    waiting = _pending(db, SCORING_EXPLAIN)
    # Every score is the successor's at once; the moved ones wait for their reasons, and
    # alerts and reviews are not told before those reasons exist.
    assert len(waiting) >= len(scored) // 2
    assert all(scored[c].reasons is None for c in waiting if not scored[c].in_default)
    assert _pending(db, ALERTS_SCORE_CHANGED) == {} == _pending(db, REVIEWS_SCORE_CHANGED)

    drain(db)
    explained = _risks(db)
    assert _pending(db, SCORING_EXPLAIN) == {}
    assert set(_pending(db, ALERTS_SCORE_CHANGED)) == set(waiting)
    assert _pending(db, REVIEWS_SCORE_CHANGED) == waiting  # the notice, as it was written
    with db.transaction() as session:
        history = {(s.customer_id, s.scored_at): s.reasons for s in session.scalars(
            select(Score).where(Score.target == "default", Score.shadow.is_(False)))}
    for customer_id in waiting:
        risk = explained[customer_id]
        assert risk.scored_at == scored[customer_id].scored_at  # explained, not rescored
        assert history[(customer_id, risk.scored_at)] == risk.reasons
        if risk.in_default:
            continue
        x = np.array([[np.nan if risk.features[n] is None else risk.features[n]
                       for n in FEATURE_NAMES]])
        contrib = successor.predict(x, pred_contrib=True)[0, :-1]
        top = int(np.argmax(contrib))
        assert risk.reasons is not None
        if contrib[top] > 0:  # by the model that scored it, not the one before
            assert risk.reasons[0]["feature"] == FEATURE_NAMES[top]
            assert risk.reasons[0]["log_odds"] == pytest.approx(contrib[top], abs=1e-6)


def test_a_score_rescored_before_its_explanation_keeps_the_newer_result(
        db: Database, champion: lgb.Booster) -> None:
    _rescore(db)
    drain(db)
    _promote_a_riskier_model(db)
    _rescore(db, features="stored")
    waiting = sorted(_pending(db, SCORING_EXPLAIN))
    customer_id = next(c for c in waiting if not _risks(db)[c].in_default)
    with db.transaction() as session:  # a newer scoring with its own (here: no) reasons
        session.execute(update(CustomerRisk).where(CustomerRisk.customer_id == customer_id)
                        .values(scored_at=utcnow(), reasons=None))
    drain(db)
    assert _risks(db)[customer_id].reasons is None  # left to its first read
    assert customer_id in _pending(db, ALERTS_SCORE_CHANGED)  # the move is still told


def _empty_score_notices(db: Database) -> None:
    with db.transaction() as session:
        session.execute(delete(WorkItem).where(WorkItem.topic.in_(
            [ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED])))


def test_pages_scored_at_once_score_every_customer_once(
        db: Database, champion: lgb.Booster) -> None:
    """Small pages, so that (on PostgreSQL) two are scored and written at once, each in its
    own transaction: every customer is scored once, as one page at a time would."""
    _rescore(db)
    before = _risks(db)
    with db.transaction() as session:
        history = session.scalar(select(func.count()).select_from(Score))
    result = _rescore(db, features="stored", batch_size=7)
    assert result["customers"] == len(before) > 7 * 4
    after = _risks(db)
    assert set(after) == set(before)
    for customer_id, risk in after.items():
        assert risk.scored_at > before[customer_id].scored_at  # each page's own moment
        assert risk.pd_default == pytest.approx(before[customer_id].pd_default, abs=1e-12)
        assert risk.reasons == before[customer_id].reasons  # unchanged, so kept
    with db.transaction() as session:  # nothing moved: no history entry, none twice
        assert session.scalar(select(func.count()).select_from(Score)) == history


def test_a_tier_change_alone_keeps_the_stored_reasons_on_its_history_entry(
        db: Database, client: TestClient, champion: lgb.Booster) -> None:
    _rescore(db)
    low = sorted(c for c, r in _risks(db).items() if r.tier == "low" and not r.in_default)
    for customer_id in low[:10]:  # explained on first read, and kept
        assert client.get(f"/v1/customers/{customer_id}/risk", headers=READ).status_code == 200
    explained = {c: r for c, r in _risks(db).items()
                 if r.reasons is not None and not r.in_default and r.tier == "low"}
    assert len(explained) >= 10
    with db.transaction() as session:  # every PD from 0.1 % up is now high risk
        put_config(session, actor="test", config=TierConfigIn.model_validate({
            "thresholds": {"medium": 0.0005, "high": 0.001},
            "strategies": {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()}}))
    _rescore(db, features="stored")  # same model, same vectors: only tiers change
    after = _risks(db)
    with db.transaction() as session:
        history = {s.customer_id: s for s in session.scalars(
            select(Score).where(Score.target == "default", Score.shadow.is_(False),
                                Score.scored_at == next(iter(after.values())).scored_at))}
    retiered = [c for c in explained if after[c].tier != explained[c].tier]
    assert retiered
    for customer_id in retiered:
        assert after[customer_id].reasons == explained[customer_id].reasons
        assert history[customer_id].tier == after[customer_id].tier
        assert history[customer_id].reasons == explained[customer_id].reasons
