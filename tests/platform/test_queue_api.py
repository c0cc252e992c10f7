"""Operators see dead letters through the gateway and can retry them (audited)."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from shared import queue
from shared.db import Database
from shared.models import AuditEntry, WorkItem
from tests.stack import Stack


def test_dead_letters_are_listed_and_retried(live: Stack, db: Database) -> None:
    with db.transaction() as session:
        queue.enqueue(session, topic="ops.test", key="c9", payload={"n": 1})
    with db.transaction() as session:
        session.execute(update(WorkItem).values(status=queue.ItemStatus.DEAD, attempts=8,
                                                last_error="ValueError: broken"))
    headers = live.headers()
    dead = httpx.get(f"{live.gateway}/v1/queue/dead-letters", headers=headers).json()
    assert [(d["topic"], d["key"], d["last_error"]) for d in dead] == [
        ("ops.test", "c9", "ValueError: broken")]
    depth = httpx.get(f"{live.gateway}/v1/queue/depth", headers=headers).json()
    assert {"topic": "ops.test", "status": "dead", "count": 1} in depth
    retried = httpx.post(f"{live.gateway}/v1/queue/dead-letters/{dead[0]['id']}/retry",
                         headers=headers)
    assert retried.status_code == 202
    again = httpx.post(f"{live.gateway}/v1/queue/dead-letters/{dead[0]['id']}/retry",
                       headers=headers)
    assert again.status_code == 404
    with db.sessions() as session:
        item = session.scalars(select(WorkItem)).one()
        assert (item.status, item.attempts) == (queue.ItemStatus.PENDING, 0)
        entry = session.scalars(select(AuditEntry)).one()
        assert entry.action == "queue.retry" and entry.actor.startswith("bootstrap (")
