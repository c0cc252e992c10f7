"""What the CRM adapters share: delivery de-duplication and profile upserts from a CRM record
(its own id resolves through an alias; a record never seen before becomes a customer whose
id is the CRM id, with the alias recorded)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.customers.repository import upsert_aliases
from services.ingest.customers.service import UpsertOutcome, upsert_lenient
from services.ingest.events.repository import EPOCH, ensure_customers, resolve_aliases
from services.ingest.webhooks import repository
from shared.errors import BadRequest, field_error
from shared.models import utcnow


def first_delivery(session: Session, *, adapter: str, delivery_id: str) -> bool:
    return repository.record_delivery(session, adapter=adapter, delivery_id=delivery_id,
                                      now=utcnow())


def customer_id_for(session: Session, *, source: str, external_id: str) -> str:
    return resolve_aliases(session, {(source, external_id)}).get((source, external_id),
                                                                 external_id)


def upsert_from_crm(session: Session, *, source: str, external_id: str,
                    fields: dict[str, Any], version: dt.datetime | None) -> UpsertOutcome:
    """Apply the CRM's fields; a field that does not validate is dropped, not the record."""
    customer_id = customer_id_for(session, source=source, external_id=external_id)
    if not fields:
        # Only the record id is known (the CRM sent no values): a minimal customer, like an
        # event arriving first, that the next notification with values completes.
        now = utcnow()
        ensure_customers(session, [customer_id], now=now)
        upsert_aliases(session, customer_id, [(source, external_id)])
        return UpsertOutcome(customer_id, "unchanged", EPOCH)
    outcome = upsert_lenient(session, customer_id=customer_id, fields=fields, version=version,
                             aliases=[(source, external_id)])
    if outcome is None:
        raise BadRequest(f"The {source} record '{external_id[:100]}' cannot be a customer id.",
                         errors=[field_error("ids", "record id longer than 128 characters")])
    return outcome
