"""The portfolio simulator: deterministic, realistic in shape, loadable and writable."""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import func, select

from services.scoring.simulator.loader import load_into_database, write_files
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared.db import Database
from shared.models import Customer, Event, IndustryOutlook

CONFIG = SimConfig(customers=120, months=18, seed=11, end=dt.date(2026, 11, 1))


def test_same_seed_same_portfolio_other_seed_differs() -> None:
    first = list(simulate(CONFIG).events())
    again = list(simulate(CONFIG).events())
    other = list(simulate(SimConfig(customers=120, months=18, seed=12,
                                    end=dt.date(2026, 11, 1))).events())
    assert first == again
    assert first != other


def test_portfolio_has_every_behaviour_and_outcome() -> None:
    portfolio = simulate(SimConfig(customers=400, months=24, seed=3, end=dt.date(2026, 11, 1)))
    events = list(portfolio.events())
    types = collections.Counter(e["type"] for e in events)
    for expected in ("order.placed", "invoice.issued", "payment.received",
                     "transaction.completed", "complaint.opened", "complaint.resolved",
                     "credit_rating.updated", "news.sentiment", "partner.feedback",
                     "customer.defaulted", "invoice.written_off", "customer.churned"):
        assert types[expected] > 0, expected
    defaulted = [t for t in portfolio.truth.values() if t["defaulted"]]
    # A B2B book: defaults are a minority, and riskier propensities default more often.
    assert 0.02 < len(defaulted) / len(portfolio.truth) < 0.3
    mean_bad = sum(t["propensity"] for t in defaulted) / len(defaulted)
    mean_all = sum(t["propensity"] for t in portfolio.truth.values()) / len(portfolio.truth)
    assert mean_bad > mean_all + 0.3
    # Nothing happens after a default.
    last_default = {e["subject"]: e["time"] for e in events if e["type"] == "customer.defaulted"}
    for e in events:
        if e["subject"] in last_default and e["type"] not in ("invoice.written_off",):
            assert e["time"] <= last_default[e["subject"]] or e["type"] == "customer.defaulted"


def test_loads_into_database_with_typed_columns(db: Database) -> None:
    counts = load_into_database(db, simulate(CONFIG))
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 120
        assert session.scalar(select(func.count()).select_from(Event)) == counts["events"]
        assert session.scalar(select(func.count()).select_from(IndustryOutlook)) > 0
        invoice = session.scalars(select(Event).where(Event.type == "invoice.issued")
                                  .limit(1)).one()
        assert invoice.amount is not None and invoice.due_on is not None
        assert invoice.ref_id == invoice.data["invoice_id"]


def test_writes_csv_and_ndjson(tmp_path: Path) -> None:
    portfolio = simulate(CONFIG)
    ndjson = write_files(portfolio, tmp_path / "n", fmt="ndjson")
    lines = ndjson["events"].read_text().splitlines()
    assert json.loads(lines[0])["specversion"] == "1.0"
    assert len(lines) == sum(1 for _ in portfolio.events())
    csv_paths = write_files(portfolio, tmp_path / "c", fmt="csv")
    header = csv_paths["customers"].read_text().splitlines()[0]
    assert header.startswith("customer_id,name")
    labelled = csv_paths["labelled"].read_text().splitlines()
    assert labelled[0].endswith("defaulted") and len(labelled) == 121


def test_riskwatch_simulate_command(tmp_path: Path, capsys: object) -> None:
    from riskwatch.cli import main

    assert main(["simulate", "--customers", "5", "--months", "3", "--seed", "2",
                 "--end", "2026-10-01", "--out", str(tmp_path), "--format", "csv"]) == 0
    assert (tmp_path / "events.csv").read_text().startswith("id,source,type,time")
    assert len((tmp_path / "customers.csv").read_text().splitlines()) == 6
