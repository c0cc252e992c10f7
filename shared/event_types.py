"""The known CloudEvent types (DOMAIN.md, "Events"): how each one's ``data`` is validated and
which typed event columns it fills, so features are plain SQL over typed columns.

Ingest validates with these models; anything that writes events (the simulator's direct
loader included) projects through :func:`project` so every writer fills the same columns.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Money travels as a decimal string (or a JSON number) with at most 2 places; the document
# says so, so a client (or a fuzzer) knows what is accepted.
MONEY_PATTERN = r"^[0-9]{1,18}(\.[0-9]{1,2})?$"
_MONEY_SCHEMA = {"anyOf": [{"type": "string", "pattern": MONEY_PATTERN},
                           {"type": "number", "minimum": 0, "maximum": 1e17}],
                 "examples": ["1200.00"]}
PositiveMoney = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=2,
                                         json_schema_extra=_MONEY_SCHEMA)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _Data(BaseModel):
    # Unknown extra fields are kept (a CRM sends what it sends) but not projected.
    model_config = ConfigDict(extra="allow")


class InvoiceIssued(_Data):
    invoice_id: Identifier
    amount: PositiveMoney
    currency: Currency
    due_date: dt.date


class PaymentReceived(_Data):
    invoice_id: Identifier
    amount: PositiveMoney
    currency: Currency


class OrderPlaced(_Data):
    order_id: Identifier | None = None
    amount: PositiveMoney
    currency: Currency


class TransactionCompleted(_Data):
    amount: PositiveMoney
    currency: Currency
    counterparty: Identifier | None = None


class CreditLimitChanged(_Data):
    credit_limit: PositiveMoney
    currency: Currency


class ComplaintOpened(_Data):
    complaint_id: Identifier
    severity: Annotated[str, StringConstraints(pattern=r"^(low|medium|high)$")] = "medium"


class ComplaintResolved(_Data):
    complaint_id: Identifier


class CreditRatingUpdated(_Data):
    agency: Identifier
    rating: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    # Agency score normalised to 0..100, higher is better.
    score: Annotated[float, Field(ge=0, le=100)]


class NewsSentiment(_Data):
    source: Identifier | None = None
    score: Annotated[float, Field(ge=-1, le=1)]


class PartnerFeedback(_Data):
    partner: Identifier | None = None
    score: Annotated[float, Field(ge=0, le=10)]


class IndustryOutlookData(_Data):
    industry: Identifier
    index: Annotated[float, Field(ge=-1, le=1)]


class InvoiceWrittenOff(_Data):
    invoice_id: Identifier
    amount: PositiveMoney | None = None
    currency: Currency | None = None


class Outcome(_Data):
    reason: str | None = None


DATA_MODELS: dict[str, type[_Data]] = {
    "invoice.issued": InvoiceIssued,
    "payment.received": PaymentReceived,
    "order.placed": OrderPlaced,
    "transaction.completed": TransactionCompleted,
    "credit_limit.changed": CreditLimitChanged,
    "complaint.opened": ComplaintOpened,
    "complaint.resolved": ComplaintResolved,
    "credit_rating.updated": CreditRatingUpdated,
    "news.sentiment": NewsSentiment,
    "partner.feedback": PartnerFeedback,
    "industry.outlook": IndustryOutlookData,
    "customer.defaulted": Outcome,
    "invoice.written_off": InvoiceWrittenOff,
    "customer.churned": Outcome,
}
KNOWN_TYPES = frozenset(DATA_MODELS) | {"customer.created", "customer.updated"}


def validate_data(event_type: str, data: Any) -> _Data | None:
    """Validated data for a known type (raises pydantic.ValidationError), None for others."""
    model = DATA_MODELS.get(event_type)
    if model is None:
        return None
    return model.model_validate(data if data is not None else {})


def project(event_type: str, data: _Data | None) -> dict[str, Any]:
    """The typed event columns (amount, currency, ref_id, due_on, value, counterparty)."""
    columns: dict[str, Any] = {"amount": None, "currency": None, "ref_id": None,
                               "due_on": None, "value": None, "counterparty": None}
    match data:
        case InvoiceIssued():
            columns.update(ref_id=data.invoice_id, amount=data.amount, currency=data.currency,
                           due_on=data.due_date)
        case PaymentReceived():
            columns.update(ref_id=data.invoice_id, amount=data.amount, currency=data.currency)
        case OrderPlaced():
            columns.update(ref_id=data.order_id, amount=data.amount, currency=data.currency)
        case TransactionCompleted():
            columns.update(amount=data.amount, currency=data.currency,
                           counterparty=data.counterparty)
        case CreditLimitChanged():
            columns.update(amount=data.credit_limit, currency=data.currency)
        case ComplaintOpened() | ComplaintResolved():
            columns.update(ref_id=data.complaint_id)
        case CreditRatingUpdated():
            columns.update(ref_id=data.agency, value=data.score)
        case NewsSentiment() | PartnerFeedback():
            columns.update(value=data.score)
        case IndustryOutlookData():
            columns.update(ref_id=data.industry, value=data.index)
        case InvoiceWrittenOff():
            columns.update(ref_id=data.invoice_id, amount=data.amount, currency=data.currency)
    return columns
