"""Customer profiles in and the background check out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.event_types import Currency, PositiveMoney
from shared.validation import INT32_MAX, CustomerId, SafeModel

Text = Annotated[str, StringConstraints(max_length=300)]

PROFILE_EXAMPLE: dict[str, Any] = {
    "customer_id": "cust-001",
    "name": "Acme Trading GmbH",
    "legal_name": "Acme Trading Gesellschaft mbH",
    "registration_ids": {"vat": "DE123456789", "hrb": "HRB 12345"},
    "industry": "wholesale",
    "country": "DE",
    "founded_on": "2009-04-01",
    "employees": 120,
    "annual_revenue": "25000000.00",
    "revenue_currency": "EUR",
    "credit_limit": "150000.00",
    "credit_currency": "EUR",
    "owner": "j.schmidt@example.com",
    "attributes": {"segment": "SMB"},
    "aliases": [{"source": "zoho-crm", "external_id": "3652397000000415057"}],
    "updated_at": "2026-11-20T08:00:00Z",
}


class AliasIn(SafeModel):
    source: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CustomerIn(SafeModel):
    """A profile version. Fields left out keep their stored value; `updated_at` is the
    source's own timestamp of this version (default: now) and decides which version wins."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PROFILE_EXAMPLE]})

    customer_id: CustomerId
    name: Text | None = None
    legal_name: Text | None = None
    registration_ids: dict[str, str] | None = None
    industry: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166-1 alpha-2")
    founded_on: dt.date | None = None
    employees: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None  # INTEGER column
    annual_revenue: PositiveMoney | None = None
    revenue_currency: Currency | None = None
    credit_limit: PositiveMoney | None = None
    credit_currency: Currency | None = None
    owner: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="Account manager")
    attributes: dict[str, Any] | None = None
    aliases: list[AliasIn] = Field(default_factory=list,
                                   description="Other systems' ids for this customer")
    updated_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _money_has_currency(self) -> CustomerIn:
        if self.annual_revenue is not None and self.revenue_currency is None:
            raise ValueError("revenue_currency is required with annual_revenue")
        if self.credit_limit is not None and self.credit_currency is None:
            raise ValueError("credit_currency is required with credit_limit")
        return self


class CustomerBatchIn(BaseModel):
    customers: list[CustomerIn] = Field(min_length=1)


class UpsertResult(BaseModel):
    customer_id: str
    status: Literal["created", "updated", "unchanged", "stale"] = Field(
        description="`stale`: older than the stored version, not applied")
    updated_at: dt.datetime = Field(description="Version now stored")


class UpsertBatchResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    stale: int
    results: list[UpsertResult]


class AliasOut(AliasIn):
    pass


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    name: str | None
    legal_name: str | None
    registration_ids: dict[str, Any]
    industry: str | None
    country: str | None
    founded_on: dt.date | None
    employees: int | None
    annual_revenue: Decimal | None
    revenue_currency: str | None
    credit_limit: Decimal | None
    credit_currency: str | None
    owner: str | None
    attributes: dict[str, Any]
    incomplete: bool = Field(description="Created by an event before any profile arrived")
    updated_at: dt.datetime
    created_at: dt.datetime
    aliases: list[AliasOut] = Field(default_factory=list)


class LastEvent(BaseModel):
    event_pk: int
    id: str
    source: str
    type: str
    occurred_at: dt.datetime


class OpenInvoice(BaseModel):
    invoice_id: str
    currency: str | None
    amount: Decimal
    paid: Decimal
    open_amount: Decimal
    due_on: dt.date | None
    days_past_due: int


class History(BaseModel):
    total_events: int
    event_counts: dict[str, int] = Field(description="Events by type")
    last_event: LastEvent | None
    open_invoices: list[OpenInvoice] = Field(description="Issued minus paid, not written off")
    open_amount: dict[str, Decimal] = Field(description="Open invoice amount by currency")
    overdue_amount: dict[str, Decimal] = Field(description="Open amount past due, by currency")


class BackgroundCheck(BaseModel):
    customer: CustomerOut
    history: History
