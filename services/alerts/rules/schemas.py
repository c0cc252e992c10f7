"""Alert rules on the wire: each kind's parameters (validated on write), scope, and the rule."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.models.alerts import RuleKind, Severity
from shared.validation import SafeModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Snake = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
TierName = Literal["low", "medium", "high"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]
Number = Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)]
Days = Annotated[int, Field(ge=1, le=3650)]
Seconds = Annotated[int, Field(ge=0, le=366 * 86400)]

# Indicators a threshold reads from the stored current risk; anything else is a feature.
RISK_INDICATORS = ("pd", "pd_churn", "points", "tier", "overdue_amount",
                   "outstanding_balance", "credit_limit", "in_default")
# Counted from events over the rule's window.
WINDOW_INDICATORS = {"complaints": "complaint.opened", "orders": "order.placed",
                     "transactions": "transaction.completed"}
# The feature set scoring stores with every current risk (DOMAIN.md, "Features").
FEATURE_INDICATORS = (
    "days_past_due", "max_days_late_90", "max_days_late_365", "mean_days_late_365",
    "late_payments_365", "utilization", "invoice_count_90", "invoice_amount_90",
    "order_count_30", "order_count_90", "order_amount_90", "order_trend",
    "days_since_last_order", "txn_count_365", "txn_amount_zscore", "counterparties_90",
    "complaints_open", "complaints_90", "rating", "rating_change", "sentiment_90",
    "partner_feedback_365", "industry_outlook", "company_age_years", "employees",
    "annual_revenue_log", "relationship_days",
)
ALIASES = {"utilisation": "utilization", "probability_of_default": "pd"}


class ThresholdParams(BaseModel):
    """``indicator operator value``: e.g. days_past_due > 60, tier == high, complaints ≥ 3
    within 30 days. A feature the scoring feature set does not know is named
    ``feature:<name>``."""

    model_config = ConfigDict(extra="forbid")

    indicator: Annotated[str, StringConstraints(pattern=r"^(feature:)?[a-z][a-z0-9_]{0,63}$")]
    operator: Operator
    value: Number | TierName
    window_days: Days | None = Field(None, description="for windowed counts (complaints, "
                                                        "orders, transactions)")

    @model_validator(mode="after")
    def _known(self) -> ThresholdParams:
        self.indicator = ALIASES.get(self.indicator, self.indicator)
        name = self.indicator
        if not (name in RISK_INDICATORS or name in WINDOW_INDICATORS
                or name in FEATURE_INDICATORS or name.startswith("feature:")):
            raise ValueError(f"unknown indicator {name!r}; known: risk "
                             f"{', '.join(RISK_INDICATORS)}; counts "
                             f"{', '.join(WINDOW_INDICATORS)}; features "
                             f"{', '.join(FEATURE_INDICATORS)}; or feature:<name>")
        if name == "tier" and self.value not in ("low", "medium", "high"):
            raise ValueError("a tier threshold's value is low, medium or high")
        if name != "tier" and isinstance(self.value, str):
            raise ValueError(f"indicator {name!r} needs a number")
        if name in WINDOW_INDICATORS and self.window_days is None:
            self.window_days = 90
        if name not in WINDOW_INDICATORS and self.window_days is not None:
            raise ValueError("window_days applies to complaints, orders and transactions")
        return self


class ChangeParams(BaseModel):
    """A worsening within a window: PD up by ``points`` percentage points, tier worsened
    (optionally to one of ``to_tiers``), or an agency rating down ``notches`` notches."""

    model_config = ConfigDict(extra="forbid")

    change: Literal["pd_up", "tier_worsened", "rating_down"]
    points: Annotated[float, Field(gt=0, le=100)] | None = None
    window_days: Days = 30
    to_tiers: list[TierName] | None = Field(None, max_length=3)
    notches: Annotated[int, Field(ge=1, le=21)] | None = None
    agency: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None

    @model_validator(mode="after")
    def _needed(self) -> ChangeParams:
        if self.change == "pd_up" and self.points is None:
            raise ValueError("pd_up needs points (percentage points of PD)")
        if self.change == "rating_down" and self.notches is None:
            self.notches = 1
        return self


class AnomalyParams(BaseModel):
    """An event unusual for this customer: a transaction amount with robust z-score ≥ ``k``
    against their own history; a frequency ``factor`` × their baseline; a counterparty
    never seen before, above ``min_amount``."""

    model_config = ConfigDict(extra="forbid")

    anomaly: Literal["amount_zscore", "frequency", "new_counterparty"]
    k: Annotated[float, Field(gt=0, le=1000)] = 4.0
    lookback_days: Days = 365
    min_history: Annotated[int, Field(ge=2, le=10000)] = 5
    event_type: Literal["order.placed", "payment.received", "transaction.completed",
                        "invoice.issued", "complaint.opened"] | None = None
    recent_days: Days = 7
    baseline_days: Days = 90
    factor: Annotated[float, Field(gt=1, le=1000)] = 3.0
    min_count: Annotated[int, Field(ge=1, le=100000)] = 3
    min_amount: Annotated[float, Field(ge=0, le=1e15)] = 0.0

    @model_validator(mode="after")
    def _defaults(self) -> AnomalyParams:
        if self.event_type is None:
            self.event_type = ("order.placed" if self.anomaly == "frequency"
                               else "transaction.completed")
        if self.anomaly == "frequency" and self.baseline_days <= self.recent_days:
            raise ValueError("baseline_days must be longer than recent_days")
        return self


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, StringConstraints(pattern=r"^(data|amount|counterparty|currency)"
                                                   r"(\.[A-Za-z0-9_]{1,64}){0,8}$")]
    operator: Operator | Literal["exists", "in"]
    value: Number | Annotated[str, StringConstraints(max_length=500)] | bool | None | list[
        Annotated[str, StringConstraints(max_length=500)] | Number] = None


class EventParams(BaseModel):
    """An event of ``event_type`` whose fields meet every condition."""

    model_config = ConfigDict(extra="forbid")

    event_type: EventType
    conditions: list[Condition] = Field(default_factory=list, max_length=10)


class ExpressionParams(BaseModel):
    """A CEL condition over customer, risk, previous_risk, event and features."""

    model_config = ConfigDict(extra="forbid")

    expression: Annotated[str, StringConstraints(min_length=1, max_length=10000)]


PARAMS: dict[RuleKind, type[BaseModel]] = {
    RuleKind.THRESHOLD: ThresholdParams, RuleKind.CHANGE: ChangeParams,
    RuleKind.ANOMALY: AnomalyParams, RuleKind.EVENT: EventParams,
    RuleKind.EXPRESSION: ExpressionParams,
}


class Scope(BaseModel):
    """Who the rule watches: empty lists mean everyone; several lists must all match."""

    model_config = ConfigDict(extra="forbid")

    tiers: list[TierName] = Field(default_factory=list, max_length=3)
    industries: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200)
    customers: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=10000)


class RuleIn(SafeModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "Days past due over 60", "kind": "threshold",
         "params": {"indicator": "days_past_due", "operator": ">", "value": 60},
         "severity": "critical", "scope": {"tiers": ["medium", "high"]}},
        {"name": "Big order while high risk", "kind": "expression",
         "params": {"expression": 'event.type == "order.placed" && event.amount > 50000.0 '
                                  '&& risk.tier == "high"'}, "severity": "warning"}]})

    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    kind: RuleKind
    params: dict[str, Any]
    scope: Scope = Field(default_factory=Scope)
    severity: Severity = Severity.WARNING
    enabled: bool = True
    cooldown_seconds: Seconds | None = Field(
        None, description="quiet time after resolution (default 24 h)")
    resolve_after_seconds: Seconds | None = Field(
        None, description="clear this long → resolved automatically (default 1 h)")
    repeat_interval_seconds: Annotated[int, Field(ge=60, le=366 * 86400)] | None = Field(
        None, description="re-notify a still-open alert this often (default 24 h)")


class RulePatch(SafeModel):
    """Fields to change; the others stay. Any change makes a new version."""

    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    params: dict[str, Any] | None = None
    scope: Scope | None = None
    severity: Severity | None = None
    enabled: bool | None = None
    cooldown_seconds: Seconds | None = None
    resolve_after_seconds: Seconds | None = None
    repeat_interval_seconds: Annotated[int, Field(ge=60, le=366 * 86400)] | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    kind: RuleKind
    params: dict[str, Any]
    scope: Scope
    severity: Severity
    enabled: bool
    cooldown_seconds: int
    resolve_after_seconds: int
    repeat_interval_seconds: int | None
    version: int
    builtin: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class RulePage(BaseModel):
    items: list[RuleOut]


class RuleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: int
    version: int
    definition: dict[str, Any]
    created_by: str
    created_at: dt.datetime
