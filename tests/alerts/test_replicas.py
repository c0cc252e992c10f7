"""Two alerts workers on one database share the work, open each alert once and start each
playbook's run for it once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from services.alerts.playbooks.schemas import PlaybookIn
from services.alerts.playbooks.service import create_playbook
from services.alerts.worker import build_worker
from shared.db import Database, is_postgres
from shared.models import WorkItem
from shared.models.alerts import Alert
from shared.models.playbooks import PlaybookRun
from shared.topics import ALERTS_EVENT
from tests.alerts.conftest import add_customer, notifications, only_rules, post_event, set_risk

CUSTOMERS = 30
EVENTS_EACH = 3


def test_two_workers_open_each_alert_once_and_count_every_hit(db: Database) -> None:
    rule_ids = only_rules(
        db, {"name": "DPD over 60", "kind": "threshold", "severity": "critical",
             "params": {"indicator": "days_past_due", "operator": ">", "value": 60}},
        {"name": "orders", "kind": "event", "params": {"event_type": "order.placed"}})
    with db.transaction() as session:
        create_playbook(session, actor="tests", body=PlaybookIn.model_validate({
            "name": "every alert here", "trigger": {"rule_ids": rule_ids},
            "steps": [{"title": "look", "owner_role": "analyst", "due_within_minutes": 5}]}))
    ids = [f"c-{i:02d}" for i in range(CUSTOMERS)]
    for cid in ids:
        add_customer(db, cid)
        set_risk(db, cid, features={"days_past_due": 75})
    for _ in range(EVENTS_EACH):
        for cid in ids:
            post_event(db, cid, "order.placed", amount="10.00", currency="EUR")
    workers = [build_worker(db), build_worker(db)]
    for worker in workers:
        worker.consumer("evaluate").batch_size = 7  # many small batches that interleave
    handled = [0, 0]
    together = threading.Barrier(2)

    def run(index: int) -> None:
        consumer = workers[index].consumer("evaluate")
        together.wait(timeout=30)  # both claim from the start, neither drains it all alone
        while (n := consumer.run_once()) > 0:
            handled[index] += n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(handled) == CUSTOMERS * EVENTS_EACH, handled
    if is_postgres(db.engine):
        # SKIP LOCKED shares the work; SQLite's single writer may let one worker take it all.
        assert min(handled) > 0, handled
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkItem).where(
            WorkItem.topic == ALERTS_EVENT)) == 0
        rows = session.execute(select(Alert.rule_id, Alert.customer_id, Alert.hit_count)).all()
    assert len(rows) == 2 * CUSTOMERS
    assert len({(r.rule_id, r.customer_id) for r in rows}) == 2 * CUSTOMERS
    assert {r.hit_count for r in rows} == {EVENTS_EACH}
    with db.sessions() as session:
        started = list(session.scalars(select(PlaybookRun.alert_id)))
    assert sorted(started) == sorted(session_alert_ids(db))  # one run per alert, no more
    assert len([n for n in notifications(db) if n["notification"] == "opened"]) == \
        2 * CUSTOMERS
    assert len([n for n in notifications(db) if n["notification"] == "run_started"]) == \
        2 * CUSTOMERS


def session_alert_ids(db: Database) -> list[int]:
    with db.sessions() as session:
        return list(session.scalars(select(Alert.id)))
