"""SQL for receivers, their deliveries and the deliveries' attempts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.db import is_postgres
from shared.models.notifications import DeliveryAttempt, NotificationDelivery, Receiver


def get(session: Session, receiver_id: int) -> Receiver | None:
    return session.get(Receiver, receiver_id)


def name_taken(session: Session, name: str, *, other_than: int | None = None) -> bool:
    query = select(Receiver.id).where(Receiver.name == name)
    if other_than is not None:
        query = query.where(Receiver.id != other_than)
    return session.scalar(query.limit(1)) is not None


def list_all(session: Session) -> list[Receiver]:
    return list(session.scalars(select(Receiver).order_by(Receiver.id)))


def enabled(session: Session) -> list[Receiver]:
    return list(session.scalars(select(Receiver).where(Receiver.enabled.is_(True))
                                .order_by(Receiver.id)))


def remove(session: Session, receiver_id: int) -> bool:
    result = session.execute(delete(Receiver).where(Receiver.id == receiver_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_delivery(session: Session, delivery_id: int, *,
                 for_update: bool = False) -> NotificationDelivery | None:
    query = select(NotificationDelivery).where(NotificationDelivery.id == delivery_id)
    if for_update and is_postgres(session):
        query = query.with_for_update()
    return session.scalar(query)


def deliveries(session: Session, *, receiver_id: int | None = None,
               alert_id: int | None = None, status: str | None = None,
               before: int | None = None, limit: int) -> list[NotificationDelivery]:
    """Newest first, ``before`` a delivery id (cursor)."""
    query = select(NotificationDelivery)
    if receiver_id is not None:
        query = query.where(NotificationDelivery.receiver_id == receiver_id)
    if alert_id is not None:
        query = query.where(NotificationDelivery.alert_id == alert_id)
    if status is not None:
        query = query.where(NotificationDelivery.status == status)
    if before is not None:
        query = query.where(NotificationDelivery.id < before)
    return list(session.scalars(query.order_by(NotificationDelivery.id.desc()).limit(limit)))


def attempts_of(session: Session,
                delivery_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    for attempt in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)):
        found[attempt.delivery_id].append(attempt)
    return found
