"""The drill runner, on a loop of the alerts worker: sends a drill's scenario events to
ingest's public API over HTTP, as a CRM would.

Why HTTP and not a function call: a drill must rehearse the path real events take (ingest's
validation, storing, the work it enqueues for scoring and alerts, and the queue that carries
it), and alerts may not import ingest. The runner calls ingest directly with the identity
the gateway would sign for a key holding ``ingest:write``: the gateway adds key lookup and
rate limits only, and minting a stored API key for a worker would be a credential to keep.
Ingest de-duplicates on (source, id), so a retried send stores nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy.orm import Session

from services.alerts.drills import repository
from services.alerts.settings import get_alerts_settings
from shared import queue
from shared.auth import Principal, identity_headers
from shared.models import utcnow
from shared.models.playbooks import Drill
from shared.settings import get_settings

log = logging.getLogger("riskwatch.alerts.drills")
SOURCE = "riskwatch/drills"
RUNNER = Principal("alerts-drill-runner", "alerts drill runner", frozenset({"ingest:write"}))


def cloudevents(drill: Drill) -> list[dict[str, Any]]:
    """The scenario as CloudEvents about the drill's customer, with ids stable across
    retries."""
    at = drill.created_at.isoformat()
    return [{"specversion": "1.0", "id": f"{drill.customer_id}-{n}", "source": SOURCE,
             "type": event["type"], "subject": drill.customer_id, "time": at,
             "data": event.get("data") or {}}
            for n, event in enumerate(drill.events, 1)]


def send(drill: Drill) -> tuple[bool, str | None]:
    """POST the events to ingest: (accepted, what went wrong). Network trouble and 5xx
    raise, so the queue tries again later; a 4xx is the scenario's fault and final."""
    url = f"{get_settings().service_url('ingest')}/v1/events/batch"
    response = httpx.post(url, json=cloudevents(drill), headers=identity_headers(RUNNER),
                          timeout=get_alerts_settings().drill_send_timeout_seconds)
    if response.status_code >= 500:
        response.raise_for_status()
    if response.status_code in (200, 202):
        return True, None
    return response.status_code == 207, f"ingest answered {response.status_code}: " \
                                         f"{response.text[:2000]}"


def run(session: Session, item: queue.ClaimedItem) -> None:
    """One ``alerts.drill`` item. The drill is read in a short transaction of its own and
    the events sent with none open: on SQLite a transaction left open here would hold the
    writer ingest needs."""
    drill_id = int(item.payload["drill_id"])
    with Session(bind=session.get_bind()) as reader, reader.begin():
        drill = repository.get(reader, drill_id)
        if drill is None or drill.sent_at is not None:
            return
        reader.expunge(drill)
    accepted, problem = send(drill)
    stored = repository.get(session, drill_id, lock=True)
    if stored is None:
        return
    if accepted:
        stored.sent_at = utcnow()
    stored.send_error = problem
    if problem:
        log.warning("drill %s: %s", drill_id, problem)
