"""The receivers' part of the alerts worker: fan notifications out to receivers, and send
each delivery on loops of their own (``notification_loops()``, added by the alerts worker's
``build_worker``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.alerts.receivers import deliveries
from services.alerts.receivers.settings import ReceiverSettings, get_receiver_settings
from shared import queue
from shared.settings import get_settings
from shared.topics import ALERTS_DELIVER, ALERTS_NOTIFY
from shared.worker import Loop


def notification_loops(settings: ReceiverSettings | None = None) -> list[Loop]:
    """A loop that turns ``alerts.notify`` snapshots into deliveries (database only, in
    batches), and ``delivery_loops`` loops that send them, each on its own thread, so a
    receiver that times out delays neither alert evaluation nor most other deliveries."""
    chosen = settings or get_receiver_settings()
    lease = get_settings().queue_lease_seconds
    if chosen.delivery_timeout_seconds >= lease:
        # A try outlasting its lease is claimed again by another loop: sent twice.
        raise ValueError(f"RISKWATCH_ALERTS_DELIVERY_TIMEOUT_SECONDS "
                         f"({chosen.delivery_timeout_seconds:g}) must be shorter than "
                         f"RISKWATCH_QUEUE_LEASE_SECONDS ({lease:g})")

    def fan_out(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
        deliveries.fan_out(session, [item.payload for item in items])

    def deliver(session: Session, item: queue.ClaimedItem) -> None:
        deliveries.deliver(session, chosen, int(item.payload["delivery_id"]))

    return [
        Loop(name="notify", batch_handlers={ALERTS_NOTIFY: fan_out}),
        *(Loop(name=f"deliver-{n}", handlers={ALERTS_DELIVER: deliver}, batch_size=1)
          for n in range(1, chosen.delivery_loops + 1)),
    ]
