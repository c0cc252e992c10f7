"""Point-in-time features for one customer or many, as a matrix in FEATURE_NAMES order."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from services.scoring.features.definitions import FEATURE_INDEX, FEATURE_NAMES
from services.scoring.features.repository import EPOCH, raw_feature_rows
from shared.db import among
from shared.models.scoring import CustomerRisk


@dataclass
class FeatureFrame:
    """Features of many customers as of one moment (NaN = unknown)."""

    as_of: dt.datetime
    customer_ids: list[str]
    matrix: np.ndarray  # shape (customers, features), float64
    outstanding: list[Decimal]
    overdue: list[Decimal]
    credit_limit: list[Decimal | None]
    credit_currency: list[str | None]
    # Customers with no event yet at the as-of moment (not yet active).
    active: np.ndarray
    in_default: np.ndarray
    churned: np.ndarray
    # Read back from the stored scores (a rescore after a promotion): the features and
    # balances already stored need not be written again.
    stored: bool = False

    def __len__(self) -> int:
        return len(self.customer_ids)

    def row(self, i: int) -> dict[str, float | None]:
        return {name: (None if math.isnan(v) else round(float(v), 6))
                for name, v in zip(FEATURE_NAMES, self.matrix[i], strict=True)}

    def rows(self) -> list[dict[str, float | None]]:
        """Every customer's features as JSON-ready dicts (unknown -> None), vectorised."""
        rounded = np.round(self.matrix, 6).astype(object)
        rounded[np.isnan(self.matrix)] = None
        return [dict(zip(FEATURE_NAMES, values, strict=True)) for values in rounded.tolist()]

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, FEATURE_INDEX[name]]


def _f(value: Any) -> float:
    return math.nan if value is None else float(value)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def frame_from_rows(rows: Sequence[dict[str, Any]], as_of: dt.datetime) -> FeatureFrame:
    n = len(rows)
    matrix = np.full((n, len(FEATURE_NAMES)), np.nan)
    asof_day = (as_of.astimezone(dt.UTC).date() - EPOCH).days
    col = FEATURE_INDEX
    outstanding, overdue, limits = [], [], []
    active = np.zeros(n, dtype=bool)
    in_default = np.zeros(n, dtype=bool)
    churned = np.zeros(n, dtype=bool)
    for i, r in enumerate(rows):
        m = matrix[i]
        has_events = r["first_d"] is not None
        active[i] = has_events
        in_default[i] = bool(r["defaulted"])
        churned[i] = bool(r["churned"])
        limit_value = r["limit_latest"] if r["limit_latest"] is not None else r["credit_limit"]
        limits.append(_money(limit_value) if limit_value is not None else None)
        outstanding.append(_money(r["outstanding"]))
        overdue.append(_money(r["overdue"]))
        # Counts and amounts are 0 when nothing happened; levels stay unknown (NaN).
        m[col["days_past_due"]] = _f(r["dpd"] or 0)
        m[col["max_days_late_90"]] = _f(r["max_late_90"] or 0)
        m[col["max_days_late_365"]] = _f(r["max_late_365"] or 0)
        m[col["mean_days_late_365"]] = _f(r["mean_late_365"] or 0)
        m[col["late_payments_365"]] = _f(r["late_count_365"] or 0)
        m[col["overdue_amount"]] = _f(r["overdue"] or 0)
        m[col["outstanding_balance"]] = _f(r["outstanding"] or 0)
        if limit_value is not None and float(limit_value) > 0:
            m[col["utilization"]] = float(r["outstanding"] or 0) / float(limit_value)
        m[col["invoice_count_90"]] = _f(r["invoice_count_90"] or 0)
        m[col["invoice_amount_90"]] = _f(r["invoice_amount_90"] or 0)
        m[col["order_count_30"]] = _f(r["order_count_30"] or 0)
        m[col["order_count_90"]] = _f(r["order_count_90"] or 0)
        amount_90 = float(r["order_amount_90"] or 0)
        m[col["order_amount_90"]] = amount_90
        m[col["order_trend"]] = math.log((amount_90 + 1) / (float(r["order_amount_prev_90"]
                                                                 or 0) + 1))
        if r["last_order_d"] is not None:
            m[col["days_since_last_order"]] = asof_day - int(r["last_order_d"])
        txn_n = int(r["txn_n"] or 0)
        m[col["txn_count_365"]] = txn_n
        if txn_n >= 3 and r["txn_max_30"] is not None:
            mean = float(r["txn_sum"]) / txn_n
            var = max(float(r["txn_sumsq"]) / txn_n - mean * mean, 0.0)
            std = math.sqrt(var)
            m[col["txn_amount_zscore"]] = ((float(r["txn_max_30"]) - mean) / std
                                           if std > 0 else 0.0)
        m[col["counterparties_90"]] = _f(r["counterparties_90"] or 0)
        m[col["complaints_open"]] = _f(r["open_n"] or 0)
        m[col["complaints_90"]] = _f(r["complaints_90"] or 0)
        m[col["rating"]] = _f(r["rating"])
        if r["rating"] is not None and r["rating_prev"] is not None:
            m[col["rating_change"]] = float(r["rating"]) - float(r["rating_prev"])
        m[col["sentiment_90"]] = _f(r["sentiment_90"])
        m[col["partner_feedback_365"]] = _f(r["feedback_365"])
        m[col["industry_outlook"]] = _f(r["index_value"])
        founded = r["founded_on"]
        if isinstance(founded, str):
            founded = dt.date.fromisoformat(founded)
        if founded is not None:
            m[col["company_age_years"]] = max((asof_day - (founded - EPOCH).days) / 365.25, 0)
        m[col["employees"]] = _f(r["employees"])
        if r["annual_revenue"] is not None and float(r["annual_revenue"]) > 0:
            m[col["annual_revenue_log"]] = math.log(float(r["annual_revenue"]))
        if has_events:
            m[col["relationship_days"]] = asof_day - int(r["first_d"])
    return FeatureFrame(
        as_of=as_of, customer_ids=[r["customer_id"] for r in rows], matrix=matrix,
        outstanding=outstanding, overdue=overdue, credit_limit=limits,
        credit_currency=[r["credit_currency"] for r in rows], active=active,
        in_default=in_default, churned=churned)


def stored_features_page(session: Session, *, after: str | None, limit: int,
                         customer_ids: Sequence[str] | None = None) -> FeatureFrame:
    """The feature vectors stored with each customer's current score, in id order: what a
    rescore after a model promotion or rollback scores (no feature query; the features are
    those of the last scoring). Customers never scored are not in it."""
    # The vector as its JSON text, parsed by orjson: the driver's json.loads of each stored
    # vector was half of a 100,000-customer rescore of stored vectors (bench.scoring b).
    query = (select(CustomerRisk.customer_id, cast(CustomerRisk.features, Text).label("features"),
                    CustomerRisk.outstanding_balance, CustomerRisk.overdue_amount,
                    CustomerRisk.credit_limit, CustomerRisk.credit_currency,
                    CustomerRisk.in_default, CustomerRisk.scored_at)
             .order_by(CustomerRisk.customer_id).limit(limit))
    if after is not None:
        query = query.where(CustomerRisk.customer_id > after)
    if customer_ids is not None:
        query = query.where(among(session, CustomerRisk.customer_id, customer_ids))
    rows = session.execute(query).all()
    n = len(rows)
    vectors = [orjson.loads(r.features) if r.features else {} for r in rows]
    # None (an unknown feature) becomes NaN in a float64 array.
    matrix = np.array([[vector.get(name) for name in FEATURE_NAMES] for vector in vectors],
                      dtype=np.float64).reshape(n, len(FEATURE_NAMES))
    return FeatureFrame(
        as_of=max((r.scored_at for r in rows), default=dt.datetime.now(dt.UTC)),
        customer_ids=[r.customer_id for r in rows], matrix=matrix,
        outstanding=[_money(r.outstanding_balance) for r in rows],
        overdue=[_money(r.overdue_amount) for r in rows],
        credit_limit=[None if r.credit_limit is None else _money(r.credit_limit)
                      for r in rows],
        credit_currency=[r.credit_currency for r in rows],
        active=np.ones(n, dtype=bool), in_default=np.array([bool(r.in_default) for r in rows],
                                                           dtype=bool),
        churned=np.zeros(n, dtype=bool), stored=True)


def features_for(session: Session, *, customer_ids: Sequence[str],
                 as_of: dt.datetime) -> FeatureFrame:
    """Features of the given customers (one or many) as of a moment."""
    return frame_from_rows(raw_feature_rows(session, as_of=as_of, customer_ids=customer_ids),
                           as_of)


def features_page(session: Session, *, as_of: dt.datetime, after: str | None,
                  limit: int) -> FeatureFrame:
    """Features of the next ``limit`` customers after ``after`` in id order (batched runs)."""
    return frame_from_rows(raw_feature_rows(session, as_of=as_of, after=after, limit=limit),
                           as_of)


def features_all(session: Session, *, as_of: dt.datetime) -> FeatureFrame:
    """Every customer's features as of a moment: one training snapshot."""
    return frame_from_rows(raw_feature_rows(session, as_of=as_of), as_of)
