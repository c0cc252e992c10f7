"""End to end through the real gateway, ingest, scoring service and scoring worker: a
simulated portfolio pushed as a CRM would, scored within seconds, decided on credit."""

from __future__ import annotations

import datetime as dt
import time

from services.scoring.simulator.loader import push_through_api
from services.scoring.simulator.portfolio import SimConfig, simulate
from tests.stack import Stack


def test_pushed_portfolio_is_scored_and_decided_through_the_gateway(live: Stack) -> None:
    portfolio = simulate(SimConfig(customers=25, months=6, seed=13,
                                   end=dt.datetime.now(dt.UTC).date()))
    counts = push_through_api(portfolio, gateway=live.gateway, api_key=live.admin_key,
                              batch_size=500)
    assert counts["customers"] == 25 and counts["events"] > 100
    cid = portfolio.customers[3]["customer_id"]
    with live.client() as client:
        deadline = time.monotonic() + 60
        risk = client.get(f"/v1/customers/{cid}/risk")
        while risk.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.2)
            risk = client.get(f"/v1/customers/{cid}/risk")
        assert risk.status_code == 200, risk.text
        body = risk.json()
        assert body["tier"] in ("low", "medium", "high")
        assert body["trigger"] == "event" or body["trigger"]
        decision = client.post("/v1/decisions/credit", json={
            "customer_id": cid, "amount": "100.00", "currency": "EUR"})
        assert decision.status_code == 200, decision.text
        assert decision.json()["decision"] in ("approve", "refer", "decline")
        unknown = client.post("/v1/decisions/credit", json={
            "customer_id": "nobody", "amount": "1.00", "currency": "EUR"})
        assert unknown.status_code == 404
        assert client.get("/v1/tiers").json()["version"] == 0
