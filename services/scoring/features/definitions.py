"""The point-in-time feature set: names, order, and how an analyst reads each one.

The set's name and version are stored with every model and every score; change the version
whenever a definition changes meaning, so old models are never fed features they did not
learn on.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURE_SET = "core"
FEATURE_SET_VERSION = 1


@dataclass(frozen=True)
class FeatureDef:
    name: str
    label: str  # how a risk analyst says it
    unit: str = ""


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef("days_past_due", "days past due on the oldest open invoice", "days"),
    FeatureDef("max_days_late_90", "worst payment delay in the last 90 days", "days"),
    FeatureDef("max_days_late_365", "worst payment delay in the last 12 months", "days"),
    FeatureDef("mean_days_late_365", "average payment delay in the last 12 months", "days"),
    FeatureDef("late_payments_365", "late payments in the last 12 months"),
    FeatureDef("overdue_amount", "amount overdue", "money"),
    FeatureDef("outstanding_balance", "outstanding balance", "money"),
    FeatureDef("utilization", "outstanding balance as a share of the credit limit", "ratio"),
    FeatureDef("invoice_count_90", "invoices in the last 90 days"),
    FeatureDef("invoice_amount_90", "invoiced amount in the last 90 days", "money"),
    FeatureDef("order_count_30", "orders in the last 30 days"),
    FeatureDef("order_count_90", "orders in the last 90 days"),
    FeatureDef("order_amount_90", "order volume in the last 90 days", "money"),
    FeatureDef("order_trend", "order volume trend (last 90 days vs the 90 before, log ratio)"),
    FeatureDef("days_since_last_order", "days since the last order", "days"),
    FeatureDef("txn_count_365", "transactions in the last 12 months"),
    FeatureDef("txn_amount_zscore",
               "largest recent transaction against the customer's own history (z-score)"),
    FeatureDef("counterparties_90", "distinct counterparties in the last 90 days"),
    FeatureDef("complaints_open", "open complaints"),
    FeatureDef("complaints_90", "complaints in the last 90 days"),
    FeatureDef("rating", "latest agency credit score (0-100)"),
    FeatureDef("rating_change", "change in agency credit score since the previous rating"),
    FeatureDef("sentiment_90", "news sentiment in the last 90 days (-1..1)"),
    FeatureDef("partner_feedback_365", "partner feedback in the last 12 months (0-10)"),
    FeatureDef("industry_outlook", "industry outlook (-1..1)"),
    FeatureDef("company_age_years", "company age", "years"),
    FeatureDef("employees", "employees"),
    FeatureDef("annual_revenue_log", "annual revenue (log)"),
    FeatureDef("relationship_days", "length of the relationship", "days"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
LABELS = {f.name: f.label for f in FEATURES}


def describe(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))
