"""A deterministic B2B portfolio: customers with a hidden, drifting risk state that drives what
they do (orders, invoices, late/partial/missed payments, complaints, ratings, news, feedback)
and their outcomes (default, write-off, churn).

The signal is deliberately noisy: every observable is the hidden state plus noise, and the
outcomes are random draws from a hazard, so a good model lands around AUC 0.75-0.85.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

SOURCE = "riskwatch-simulator"
INDUSTRIES = ("construction", "retail", "manufacturing", "logistics", "software",
              "hospitality", "healthcare", "agriculture")
# How strongly each industry's fortunes move its customers' risk.
INDUSTRY_SENSITIVITY = (1.3, 1.0, 0.8, 1.0, 0.5, 1.4, 0.4, 0.9)
COUNTRIES = ("DE", "FR", "NL", "IT", "ES", "PL", "SE", "AT")
SEGMENTS = ("small", "mid", "enterprise")
PAYMENT_METHODS = ("transfer", "direct_debit", "card")
AGENCIES = ("creditreform", "dnb")


def _rating_letter(score: float) -> str:
    for bound, letter in ((85, "AAA"), (75, "AA"), (65, "A"), (55, "BBB"), (45, "BB"),
                          (35, "B"), (25, "CCC")):
        if score >= bound:
            return letter
    return "D"


@dataclass(frozen=True)
class SimConfig:
    customers: int = 1000
    months: int = 24
    seed: int = 7
    # The last simulated day; history runs `months` months back from it.
    end: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    currency: str = "EUR"
    id_prefix: str = "sim-"

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=round(self.months * 30.44))


@dataclass
class Portfolio:
    """What the simulator produced: profiles, outlooks, and a generator of events."""

    config: SimConfig
    customers: list[dict[str, Any]]
    outlooks: list[dict[str, Any]]
    # Hidden truth, for tests and the labelled-CSV writer; never loaded into riskwatch.
    truth: dict[str, dict[str, Any]]
    _latent: dict[str, Any]

    def events(self) -> Iterator[dict[str, Any]]:
        """CloudEvents for every customer, customer by customer (same order every time)."""
        for index, customer in enumerate(self.customers):
            yield from _customer_events(self, index, customer)


def simulate(config: SimConfig) -> Portfolio:
    rng = np.random.default_rng(config.seed)
    n = config.customers
    months = config.months
    start = config.start

    # Industry outlook per industry and month: a bounded AR(1) walk.
    outlook = np.zeros((len(INDUSTRIES), months))
    level = rng.normal(0, 0.3, len(INDUSTRIES))
    for m in range(months):
        level = np.clip(0.85 * level + rng.normal(0, 0.15, len(INDUSTRIES)), -1, 1)
        outlook[:, m] = level
    outlooks = [
        {"industry": INDUSTRIES[i], "as_of": start + dt.timedelta(days=round(m * 30.44)),
         "index": round(float(outlook[i, m]), 3)}
        for m in range(months) for i in range(len(INDUSTRIES))
    ]

    industry = rng.integers(0, len(INDUSTRIES), n)
    age_years = np.clip(rng.lognormal(2.0, 0.8, n), 0.3, 80)
    employees = np.clip(rng.lognormal(3.5, 1.3, n), 1, 50000).astype(int)
    segment = np.where(employees < 50, 0, np.where(employees < 500, 1, 2))
    payment_method = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    # Hidden propensity: young, small companies paying by transfer are riskier on average.
    propensity = (rng.normal(0, 1, n) - 0.25 * (np.log(age_years) - 2.0)
                  - 0.15 * (np.log(employees) - 3.5) + 0.25 * (payment_method == 0))
    churn_propensity = 0.3 * propensity + rng.normal(0, 1, n)
    revenue = employees * rng.lognormal(11.3, 0.5, n)
    credit_limit = np.round(revenue / 12 * rng.uniform(0.3, 0.8, n), -2)
    onboard_month = np.where(rng.random(n) < 0.7, 0, rng.integers(0, max(months // 2, 1), n))

    customers = []
    truth = {}
    for i in range(n):
        cid = f"{config.id_prefix}{i:06d}"
        founded = config.end - dt.timedelta(days=int(age_years[i] * 365.25))
        customers.append({
            "customer_id": cid,
            "name": f"{INDUSTRIES[industry[i]].title()} Company {i}",
            "legal_name": f"{INDUSTRIES[industry[i]].title()} Company {i} GmbH",
            "industry": INDUSTRIES[industry[i]],
            "country": COUNTRIES[i % len(COUNTRIES)],
            "founded_on": founded,
            "employees": int(employees[i]),
            "annual_revenue": Decimal(f"{revenue[i]:.2f}"),
            "revenue_currency": config.currency,
            "credit_limit": Decimal(f"{max(credit_limit[i], 1000):.2f}"),
            "credit_currency": config.currency,
            "owner": f"account-manager-{i % 12}",
            "attributes": {"segment": SEGMENTS[segment[i]],
                           "payment_method": PAYMENT_METHODS[payment_method[i]]},
            "onboarded_on": start + dt.timedelta(days=int(onboard_month[i] * 30.44)),
        })
        truth[cid] = {"propensity": float(propensity[i])}
    latent = {"industry": industry, "propensity": propensity, "churn": churn_propensity,
              "outlook": outlook, "onboard_month": onboard_month}
    return Portfolio(config=config, customers=customers, outlooks=outlooks, truth=truth,
                     _latent=latent)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _customer_events(portfolio: Portfolio, index: int,
                     customer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One customer's life, month by month. Each customer has its own random stream (seeded
    from the portfolio seed and its index), so output does not depend on iteration order."""
    config = portfolio.config
    latent = portfolio._latent
    rng = np.random.default_rng([config.seed, index])
    cid = customer["customer_id"]
    start = config.start
    end_day = (config.end - start).days
    ind = int(latent["industry"][index])
    sensitivity = INDUSTRY_SENSITIVITY[ind]
    base_state = float(latent["propensity"][index])
    churn_bias = float(latent["churn"][index])
    onboard = int(latent["onboard_month"][index])
    counter = 0
    out: list[tuple[float, int, dict[str, Any]]] = []

    def emit(day: float, event_type: str, data: dict[str, Any]) -> None:
        nonlocal counter
        if day > end_day:
            return
        counter += 1
        moment = (dt.datetime.combine(start, dt.time(), dt.UTC)
                  + dt.timedelta(days=float(day)))
        out.append((float(day), counter, {
            "specversion": "1.0", "id": f"{cid}-{counter:05d}", "source": SOURCE,
            "type": event_type, "time": moment.isoformat().replace("+00:00", "Z"),
            "subject": cid, "data": data,
        }))

    size = max(customer["employees"], 1)
    order_rate = min(0.4 + 0.3 * math.log(size), 4.0)
    ticket = float(customer["annual_revenue"]) / 12 / order_rate * 0.15
    counterparties = [f"cp-{index}-{k}" for k in range(int(rng.integers(2, 6)))]
    # The hidden state drifts month to month around the customer's propensity.
    state = base_state + rng.normal(0, 0.5)
    # invoice id -> day it is settled (inf: never), and its amount
    open_invoices: dict[str, float] = {}
    amounts: dict[str, float] = {}
    invoice_no = 0
    complaint_no = 0
    defaulted = churned = False
    for month in range(onboard, config.months):
        m0 = month * 30.44
        outlook = float(latent["outlook"][ind, month])
        state = (0.85 * state + 0.15 * base_state + rng.normal(0, 0.25)
                 - 0.25 * sensitivity * outlook)
        stress = state
        # Outcomes first: a default ends the relationship this month.
        hazard = _sigmoid(-6.3 + 1.3 * stress - 0.6 * sensitivity * outlook)
        if rng.random() < hazard:
            day = m0 + rng.uniform(0, 30)
            emit(day, "customer.defaulted", {"reason": "insolvency"})
            # Nothing happens after a default; what was still open is written off.
            out[:] = [entry for entry in out if entry[0] <= day]
            unsettled = sorted(inv for inv, settled in open_invoices.items() if settled > day)
            for k, inv_id in enumerate(unsettled):
                emit(day + 5 + k, "invoice.written_off",
                     {"invoice_id": inv_id, "amount": f"{amounts[inv_id]:.2f}",
                      "currency": config.currency})
            defaulted = True
            break
        churn_hazard = _sigmoid(-4.9 + 0.9 * churn_bias + 0.2 * stress)
        if not churned and rng.random() < churn_hazard:
            churned = True
            emit(m0 + rng.uniform(0, 30), "customer.churned", {"reason": "moved to competitor"})
        if not churned:
            n_orders = rng.poisson(order_rate * math.exp(-0.15 * max(stress, 0)))
            for _ in range(n_orders):
                day = m0 + rng.uniform(0, 30)
                amount = round(ticket * rng.lognormal(0, 0.5), 2)
                invoice_no += 1
                inv_id = f"{cid}-inv-{invoice_no}"
                emit(day, "order.placed", {"order_id": f"{cid}-ord-{invoice_no}",
                                           "amount": f"{amount:.2f}",
                                           "currency": config.currency})
                terms = 30 if customer["employees"] < 500 else 45
                due = start + dt.timedelta(days=int(day) + terms)
                emit(day + 0.01, "invoice.issued", {
                    "invoice_id": inv_id, "amount": f"{amount:.2f}",
                    "currency": config.currency, "due_date": due.isoformat()})
                amounts[inv_id] = amount
                open_invoices[inv_id] = math.inf
                # Payment behaviour: lateness, partial and missed payments follow stress.
                due_day = int(day) + terms
                late = max(0.0, rng.normal(7 * stress + 2, 10))
                if rng.random() < _sigmoid(-6.6 + 1.5 * stress):
                    continue  # never paid
                if rng.random() < _sigmoid(-3.0 + 0.8 * stress):
                    part = round(amount * rng.uniform(0.3, 0.8), 2)
                    emit(due_day + late, "payment.received", {
                        "invoice_id": inv_id, "amount": f"{part:.2f}",
                        "currency": config.currency})
                    rest = round(amount - part, 2)
                    late += rng.uniform(10, 60)
                    emit(due_day + late, "payment.received", {
                        "invoice_id": inv_id, "amount": f"{rest:.2f}",
                        "currency": config.currency})
                else:
                    emit(due_day + late, "payment.received", {
                        "invoice_id": inv_id, "amount": f"{amount:.2f}",
                        "currency": config.currency})
                open_invoices[inv_id] = due_day + late
            for _ in range(rng.poisson(1.0)):
                amount = round(ticket * rng.lognormal(0, 0.6) * (3 if stress > 1.5 and
                                                                 rng.random() < 0.3 else 1), 2)
                party = (counterparties[int(rng.integers(len(counterparties)))]
                         if rng.random() > 0.05 + 0.05 * max(stress, 0)
                         else f"cp-new-{index}-{month}")
                emit(m0 + rng.uniform(0, 30), "transaction.completed", {
                    "amount": f"{amount:.2f}", "currency": config.currency,
                    "counterparty": party})
        for _ in range(rng.poisson(0.12 * math.exp(0.45 * stress + 0.2 * churn_bias))):
            complaint_no += 1
            day = m0 + rng.uniform(0, 30)
            comp_id = f"{cid}-c-{complaint_no}"
            emit(day, "complaint.opened", {
                "complaint_id": comp_id,
                "severity": "high" if rng.random() < 0.2 + 0.1 * max(stress, 0) else "medium"})
            emit(day + rng.exponential(20), "complaint.resolved", {"complaint_id": comp_id})
        if month % 3 == index % 3:
            score = float(np.clip(62 - 11 * stress + rng.normal(0, 9), 0, 100))
            emit(m0 + rng.uniform(0, 30), "credit_rating.updated", {
                "agency": AGENCIES[index % 2], "rating": _rating_letter(score),
                "score": round(score, 1)})
        for _ in range(rng.poisson(0.4)):
            emit(m0 + rng.uniform(0, 30), "news.sentiment", {
                "source": "newswire",
                "score": round(math.tanh(-0.35 * stress + rng.normal(0, 0.5)), 3)})
        if rng.random() < 0.25:
            emit(m0 + rng.uniform(0, 30), "partner.feedback", {
                "partner": "distributor",
                "score": round(float(np.clip(7 - 0.9 * stress + rng.normal(0, 1.6), 0, 10)), 1)})
    portfolio.truth[cid].update(defaulted=defaulted, churned=churned)
    out.sort(key=lambda entry: (entry[0], entry[1]))
    for _, _, event in out:
        yield event
