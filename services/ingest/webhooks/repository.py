"""SQL for webhook deliveries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from shared.db import dialect_insert
from shared.models.ingest import WebhookDelivery


def record_delivery(session: Session, *, adapter: str, delivery_id: str,
                    now: dt.datetime) -> bool:
    """True when this delivery is new; False when it was processed before."""
    stmt = (dialect_insert(session)(WebhookDelivery)
            .values(adapter=adapter, delivery_id=delivery_id[:255], received_at=now)
            .on_conflict_do_nothing(index_elements=[WebhookDelivery.adapter,
                                                    WebhookDelivery.delivery_id])
            .returning(WebhookDelivery.delivery_id))
    return session.execute(stmt).first() is not None
