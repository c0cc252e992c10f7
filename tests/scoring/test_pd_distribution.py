"""GET /v1/tiers/distribution: the current PDs as a histogram whose edges include the tier
cut-offs in force, on both engines."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from services.scoring.tiers.schemas import DEFAULT_STRATEGIES
from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import CustomerRisk
from tests.scoring.conftest import READ, WRITE
from tests.scoring.factories import add_customer

PDS = {"a": 0.001, "b": 0.0199, "c": 0.02, "d": 0.05, "e": 0.1, "f": 1.0}


def _risks(db: Database) -> None:
    for customer_id in PDS:
        add_customer(db, customer_id)
    with db.transaction() as session:
        for customer_id, pd in PDS.items():
            session.add(CustomerRisk(customer_id=customer_id, pd_default=pd, points=600,
                                     tier="low", model_version="m1", reasons=[],
                                     feature_set="core", feature_set_version=1, features={},
                                     overdue_amount=Decimal(0), tier_config_version=0,
                                     outstanding_balance=Decimal(0), trigger="test",
                                     scored_at=utcnow()))


def _counts(body: dict) -> dict[tuple[float, float], tuple[str, int]]:
    return {(b["from_pd"], b["to_pd"]): (b["tier"], b["customers"]) for b in body["buckets"]
            if b["customers"]}


def test_the_pd_histogram_splits_at_the_tier_cut_offs_in_force(db: Database,
                                                                 client: TestClient) -> None:
    _risks(db)
    body = client.get("/v1/tiers/distribution", headers=READ).json()
    assert body["version"] == 0 and body["thresholds"] == {"medium": 0.02, "high": 0.1}
    assert body["total"] == 6 and body["by_tier"] == {"low": 2, "medium": 2, "high": 2}
    assert _counts(body) == {(0.0, 0.0025): ("low", 1), (0.015, 0.02): ("low", 1),
                             (0.02, 0.03): ("medium", 1), (0.05, 0.075): ("medium", 1),
                             (0.1, 0.15): ("high", 1), (0.5, 1.0): ("high", 1)}
    edges = [(b["from_pd"], b["to_pd"]) for b in body["buckets"]]
    assert edges[0][0] == 0.0 and edges[-1][1] == 1.0
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:], strict=False))  # no gap

    strategies = {k: v.model_dump() for k, v in DEFAULT_STRATEGIES.items()}
    put = client.put("/v1/tiers", headers=WRITE, json={
        "thresholds": {"medium": 0.012, "high": 0.06}, "strategies": strategies})
    assert put.status_code == 200, put.text
    moved = client.get("/v1/tiers/distribution", headers=READ).json()
    assert moved["version"] == 1 and moved["by_tier"] == {"low": 1, "medium": 3, "high": 2}
    assert _counts(moved)[(0.015, 0.02)] == ("medium", 1)  # the same PD, the new tier
    # a cut-off that is no base edge becomes one
    assert any(b["from_pd"] == 0.012 and b["tier"] == "medium" for b in moved["buckets"])
    assert any(b["to_pd"] == 0.012 and b["tier"] == "low" for b in moved["buckets"])
    assert client.get("/v1/tiers/distribution").status_code == 401
