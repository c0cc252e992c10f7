"""SQL for webhook sources."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.models.ingest import WebhookSource


def get(session: Session, adapter: str, name: str) -> WebhookSource | None:
    return session.get(WebhookSource, (adapter, name))


def list_all(session: Session) -> list[WebhookSource]:
    return list(session.scalars(select(WebhookSource).order_by(WebhookSource.adapter,
                                                               WebhookSource.name)))


def remove(session: Session, adapter: str, name: str) -> bool:
    result = session.execute(delete(WebhookSource).where(
        WebhookSource.adapter == adapter, WebhookSource.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]
