"""Training from events (out-of-time report), the registry (promote, rollback, challenger),
LightGBM reasons that add up, drift, training from a file, rescoring jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.scoring.features.service import features_all
from services.scoring.jobs.service import JobInputError
from services.scoring.models.file_training import portfolio_base_rate
from services.scoring.scores.engine import LightGbmScorer
from services.scoring.simulator.loader import labelled_csv, load_into_database
from services.scoring.simulator.portfolio import SimConfig, simulate
from services.scoring.worker import nightly_rescore
from shared.db import Database
from shared.models import AuditEntry, utcnow
from shared.models.scoring import CustomerRisk, RiskModel, Score, ScoringJob
from tests.scoring.conftest import READ, WRITE, drain
from tests.scoring.factories import add_customer, add_events, days, event

SMALL = SimConfig(customers=400, months=24, seed=21,
                  end=dt.datetime.now(dt.UTC).date())
TRAIN = {"target": "default", "horizon_days": 180, "tuning_trials": 2, "tuning_seconds": 1,
         "params": {"num_threads": 1, "learning_rate": 0.2, "min_data_in_leaf": 20}}


def _job(client: TestClient, job_id: int) -> dict[str, Any]:
    return dict(client.get(f"/v1/models/jobs/{job_id}", headers=READ).json())


def _train(db: Database, client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/models/train", json=body, headers=WRITE)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    drain(db)
    job = _job(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_train_promote_shadow_rollback_and_drift(db: Database, client: TestClient) -> None:
    load_into_database(db, simulate(SMALL))
    job = _train(db, client, TRAIN)
    assert job["progress"] == 1.0 and job["model_id"]
    model = client.get(f"/v1/models/{job['model_id']}", headers=READ).json()
    report = model["report"]
    assert model["status"] == "candidate" and model["feature_set"] == "core"
    assert set(report["metrics"]) == {"auc", "gini", "ks", "brier"}
    # Real but imperfect signal, validated out of time.
    assert 0.6 < report["metrics"]["auc"] < 0.97
    assert abs(report["metrics"]["gini"] - (2 * report["metrics"]["auc"] - 1)) < 1e-5
    assert report["train"]["period"][1] < report["cutoff"] <= report["test"]["period"][0]
    assert report["train"]["rows"] > 0 and report["test"]["bads"] > 0
    assert len(report["calibration"]["deciles"]) == 10
    assert [t["group"] for t in report["calibration"]["tiers"]] == ["low", "medium", "high"]
    # Every baseline on the same split, the differences with their spread.
    assert set(report["comparison"]["models"]) == {"lightgbm_default", "lightgbm_tuned",
                                                   "woe_scorecard", "logistic", "blend"}
    tuned_auc = report["comparison"]["models"]["lightgbm_tuned"]["auc"]
    assert abs(tuned_auc - report["metrics"]["auc"]) < 1e-4
    assert all(c["verdict"] in ("better", "worse", "within the noise")
               for c in report["comparison"]["comparisons"])
    assert 1 <= report["tuning"]["trials"] <= 2
    assert report["feature_importance"][0]["gain"] >= report["feature_importance"][-1]["gain"]
    listed = client.get("/v1/models?target=default", headers=READ).json()
    assert [m["id"] for m in listed] == [model["id"]]

    # Promotion: audited, champion scores everyone (via a rescore job).
    promoted = client.post(f"/v1/models/{model['id']}/promote", headers=WRITE).json()
    assert promoted["previous_model_id"] is None
    assert client.post(f"/v1/models/{model['id']}/promote", headers=WRITE).status_code == 409
    drain(db)
    with db.transaction() as session:
        risks = session.scalars(select(CustomerRisk)).all()
        assert len(risks) == SMALL.customers
        assert {r.model_version for r in risks} == {f"lgbm-default-{model['id']}"}
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "model.promoted")) == 1
    someone = next(r for r in risks if not r.in_default)
    risk = client.get(f"/v1/customers/{someone.customer_id}/risk", headers=READ).json()
    assert risk["model_version"] == f"lgbm-default-{model['id']}"
    assert all("points" in r["text"] for r in risk["reasons"])

    # A WoE scorecard as challenger scores in shadow only.
    second = _train(db, client, {**TRAIN, "family": "woe_scorecard"})
    card = client.get(f"/v1/models/{second['model_id']}", headers=READ).json()["report"]
    assert card["family"] == "woe_scorecard" and card["scorecard"]
    assert all(v["bins"][-1]["bin"] == "missing" for v in card["scorecard"])
    assert {"days_past_due", "rating"} <= {v["feature"] for v in card["information_value"]}
    changed = client.post(f"/v1/models/{second['model_id']}/status", headers=WRITE,
                          json={"status": "challenger"})
    assert changed.json()["status"] == "challenger"
    rescore = {"filter": {"customer_ids": [someone.customer_id]}}
    client.post("/v1/scoring/rescore", headers=WRITE, json=rescore)
    drain(db)
    shadow_filter = (Score.shadow.is_(True), Score.customer_id == someone.customer_id)
    with db.transaction() as session:
        # Nothing changed for the champion: no new history, so no shadow entry either.
        assert session.scalar(select(func.count()).select_from(Score).where(
            *shadow_filter)) == 0
    add_events(db, event(someone.customer_id, "credit_rating.updated", utcnow(),
                         agency="x", rating="CCC", score=15))
    client.post("/v1/scoring/rescore", headers=WRITE, json=rescore)
    drain(db)
    shadows = client.get(f"/v1/customers/{someone.customer_id}/scores?shadow=true",
                         headers=READ).json()["items"]
    assert {s["model_version"] for s in shadows} == {f"woe-default-{second['model_id']}"}
    live = client.get(f"/v1/customers/{someone.customer_id}/risk", headers=READ).json()
    assert live["model_version"] == f"lgbm-default-{model['id']}"
    client.post(f"/v1/models/{second['model_id']}/promote", headers=WRITE)
    drain(db)
    with db.transaction() as session:
        assert session.get(RiskModel, model["id"]).status == "retired"
    risk = client.get(f"/v1/customers/{someone.customer_id}/risk", headers=READ).json()
    assert risk["model_version"] == f"woe-default-{second['model_id']}"
    assert risk["reasons"] and all(r["points"] < 0 and "best bin" in r["text"]
                                   for r in risk["reasons"])
    card_drift = client.get(f"/v1/models/{second['model_id']}/drift", headers=READ).json()
    assert card_drift["features"]["days_past_due"]["psi"] is not None
    # Rollback restores the first model.
    back = client.post("/v1/models/rollback", headers=WRITE, json={"target": "default"}).json()
    assert back["model_id"] == model["id"]
    drain(db)
    risk = client.get(f"/v1/customers/{someone.customer_id}/risk", headers=READ).json()
    assert risk["model_version"] == f"lgbm-default-{model['id']}"
    client.post("/v1/models/rollback", headers=WRITE, json={"target": "default"})
    drain(db)
    risk = client.get(f"/v1/customers/{someone.customer_id}/risk", headers=READ).json()
    assert risk["model_version"] == "scorecard-default-v2"
    assert client.post("/v1/models/rollback", headers=WRITE,
                       json={"target": "default"}).status_code == 404

    drift = client.get(f"/v1/models/{model['id']}/drift", headers=READ).json()
    assert drift["score"]["verdict"] in ("stable", "watch", "act")
    assert set(drift["features"]) >= {"days_past_due", "rating"}
    assert drift["features"]["rating"]["psi"] is not None


def test_lightgbm_contributions_sum_to_the_raw_score(db: Database) -> None:
    load_into_database(db, simulate(SimConfig(customers=150, months=12, seed=4,
                                              end=dt.date(2026, 6, 1))))
    with db.transaction() as session:
        frame = features_all(session, as_of=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    y = (np.nan_to_num(frame.column("days_past_due")) > 20).astype(float)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1,
                         "min_data_in_leaf": 5}, lgb.Dataset(frame.matrix, y), 20)
    from services.scoring.features.definitions import FEATURE_NAMES, FEATURE_SET

    model = RiskModel(id=999_999, target="default", source="events", feature_set=FEATURE_SET,
                      feature_set_version=1, features=list(FEATURE_NAMES), categories={},
                      model_text=booster.model_to_string())
    scorer = LightGbmScorer(model)
    with db.transaction() as session:
        result = scorer.score(session, frame)
    contrib = booster.predict(frame.matrix, pred_contrib=True)
    raw = booster.predict(frame.matrix, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.pd, booster.predict(frame.matrix), rtol=1e-9)
    risky = int(np.argmax(result.pd))
    assert result.reasons[risky][0]["log_odds"] > 0


def test_train_from_file_scores_live_customers_from_attributes(db: Database,
                                                               client: TestClient) -> None:
    portfolio = simulate(SimConfig(customers=600, months=12, seed=8,
                                   end=dt.datetime.now(dt.UTC).date()))
    text = labelled_csv(portfolio)
    response = client.post(
        "/v1/models/train-from-file", headers=WRITE,
        files={"file": ("book.csv", text.encode(), "text/csv")},
        data={"outcome": "defaulted", "id_column": "customer_id", "folds": "3", "repeats": "1",
              "tuning_trials": "2", "tuning_seconds": "2", "base_rate": "0.01"})
    assert response.status_code == 202, response.text
    drain(db)
    job = _job(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    model = client.get(f"/v1/models/{job['model_id']}", headers=READ).json()
    assert model["source"] == "file" and model["feature_set"] == "attributes"
    assert set(model["report"]["categorical_columns"]) >= {"industry", "segment",
                                                           "payment_method"}
    assert len(model["report"]["cross_validation"]["folds"]) == 3
    # The file's bad rate is not the portfolio's: the model is shifted to the 1 % given.
    method = model["report"]["calibration_method"]
    assert method["base_rate"] == 0.01 and method["prior_shift"] < 0
    stored = model["params"]["calibration"]
    assert abs(stored["b"] - (method["b"] + method["prior_shift"])) < 1e-5
    assert 0 <= model["report"]["metrics"]["auc"] <= 1
    load_into_database(db, portfolio)
    client.post(f"/v1/models/{model['id']}/promote", headers=WRITE)
    drain(db)
    cid = portfolio.customers[0]["customer_id"]
    risk = client.get(f"/v1/customers/{cid}/risk", headers=READ).json()
    assert risk["model_version"] == f"lgbm-default-{model['id']}"
    assert risk["feature_set"] == "attributes"
    bad = client.post("/v1/models/train-from-file", headers=WRITE,
                      files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")},
                      data={"outcome": "defaulted"})
    assert bad.status_code == 400


def test_failed_training_input_fails_the_job_without_retrying(db: Database,
                                                              client: TestClient) -> None:
    job = client.post("/v1/models/train", headers=WRITE, json=TRAIN).json()
    drain(db)
    failed = _job(client, job["id"])
    assert failed["status"] == "failed" and "no events" in failed["error"]
    unknown = client.post("/v1/models/train", headers=WRITE,
                          json={**TRAIN, "params": {"boosting": "dart"}}).json()
    load_into_database(db, simulate(SimConfig(customers=30, months=6, seed=2)))
    drain(db)
    assert "unknown LightGBM parameters" in _job(client, unknown["id"])["error"]
    assert client.get("/v1/models/jobs/999", headers=READ).status_code == 404
    assert client.post("/v1/models/train", headers=READ, json=TRAIN).status_code == 403


def test_rescore_filters_and_nightly_schedule_runs_once(db: Database,
                                                        client: TestClient) -> None:
    load_into_database(db, simulate(SimConfig(customers=60, months=6, seed=9)))
    job = client.post("/v1/scoring/rescore", headers=WRITE,
                      json={"filter": {"industry": "retail"}}).json()
    drain(db)
    done = _job(client, job["id"])
    with db.transaction() as session:
        scored = session.scalar(select(func.count()).select_from(CustomerRisk))
    assert done["status"] == "succeeded" and done["result"]["customers"] == scored > 0
    today = utcnow().date()
    first = nightly_rescore(db, today)
    assert first is not None and nightly_rescore(db, today) is None  # a second replica
    drain(db)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CustomerRisk)) == 60
        assert session.get(ScoringJob, first).status == "succeeded"


def test_a_job_that_keeps_crashing_is_failed_on_its_last_attempt(db: Database) -> None:
    from services.scoring.jobs.service import create_job, run_job
    from shared import queue as work_queue
    from shared.models import WorkItem

    def crashing_runner(*_args: Any) -> dict[str, Any]:
        raise RuntimeError("out of memory")

    with db.transaction() as session:
        job_id = create_job(session, kind="rescore", request={"filter": {}},
                            actor="tests").id
    runners = {"rescore": crashing_runner}
    for final in (False, True):
        with pytest.raises(RuntimeError):  # re-raised: the queue retries or dead-letters
            run_job(db, job_id, None, runners, final_attempt=final)
        with db.transaction() as session:
            job = session.get(ScoringJob, job_id)
            assert job is not None
            assert job.status == ("failed" if final else "retrying")
            assert "out of memory" in (job.error or "")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WorkItem).where(
            WorkItem.status == work_queue.ItemStatus.PENDING)) == 1


def test_the_portfolio_base_rate_is_measured_from_stored_outcomes(db: Database) -> None:
    now = utcnow()
    for i in range(10):
        add_customer(db, f"c-{i}")
    add_events(db, event("c-0", "customer.defaulted", now - days(500)),  # before the year
               event("c-1", "customer.defaulted", now - days(200)),
               event("c-2", "invoice.written_off", now - days(20), invoice_id="i-2",
                     amount="10.00", currency="EUR"),
               event("c-3", "order.placed", now, order_id="o-3", amount="5.00",
                     currency="EUR"))
    # Two first defaults in the last year among the nine not in default a year before.
    assert portfolio_base_rate(db, target="default") == pytest.approx(2 / 9)
    with pytest.raises(JobInputError, match="base rate"):
        portfolio_base_rate(db, target="churn")
