"""The whole path, once, on PostgreSQL: every process of the registry runs as its own process
(the ingest-bus consumer reading a RabbitMQ queue of the local broker), a small simulated
portfolio goes in through the gateway as a CRM would send it, one customer's default arrives
on the bus, and every desk sees what it should — events stored, every customer scored and
tiered, an alert opened and delivered signed to a receiver over HTTP, a playbook run started,
a triggered review, the customer's page in the cockpit, and an audit log that verifies
against its signed checkpoint."""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest

from riskwatch.processes import GATEWAY, SERVICES, WORKERS
from services.scoring.simulator.loader import push_through_api
from services.scoring.simulator.portfolio import SimConfig, simulate
from shared.db import Database
from tests.cockpit.conftest import sign_in
from tests.e2e import verify
from tests.e2e.receiver import Delivery, Receiver, webhook_receiver
from tests.stack import Stack, free_port, start_stack

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
CUSTOMERS = 12
BUS_SOURCE = "e2e/collections"
STAGE_SECONDS = 60  # each stage's deadline; the whole test takes about a minute on 2 cores
T = TypeVar("T")


def poll(what: str, probe: Callable[[], tuple[T | None, str]],
         seconds: float = STAGE_SECONDS) -> T:
    """``probe()`` until it returns a value; on timeout, fail with what it saw last."""
    deadline = time.monotonic() + seconds
    last = "nothing yet"
    while True:
        try:
            found, last = probe()
        except httpx.HTTPError as exc:
            found, last = None, f"{type(exc).__name__}: {exc}"
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {seconds:.0f}s; last seen: {last}")
        time.sleep(0.5)


def _rabbitmq_reachable() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5672)) == 0


async def _publish(queue: str, event: dict[str, Any]) -> None:
    async with await aio_pika.connect(AMQP_URL) as connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        await channel.default_exchange.publish(
            aio_pika.Message(json.dumps(event).encode(),
                             content_type="application/cloudevents+json"), routing_key=queue)


async def _delete_queues(*names: str) -> None:
    async with await aio_pika.connect(AMQP_URL) as connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


@contextmanager
def bus_queue() -> Iterator[str]:
    """A RabbitMQ queue of this test's own on the local broker, deleted afterwards."""
    if not _rabbitmq_reachable():
        message = "RabbitMQ is not reachable on 127.0.0.1:5672 (.ci/run starts it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"riskwatch.e2e.{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        asyncio.run(_delete_queues(name, f"{name}.dead"))


def _pending_work(api: httpx.Client) -> int:
    answer = api.get("/v1/queue/depth")
    answer.raise_for_status()
    return sum(row["count"] for row in answer.json() if row["status"] == "pending")


def test_a_portfolio_and_a_default_travel_every_process_to_every_desk(
        postgres_url: str) -> None:
    bus_metrics = free_port()
    with bus_queue() as queue, webhook_receiver() as hook, start_stack(
            postgres_url, internal_secret=os.environ["RISKWATCH_INTERNAL_SECRET"],
            extra_env={
                "RISKWATCH_BUS_SOURCES": json.dumps({"collections": {
                    "broker": "rabbitmq", "url": AMQP_URL, "queue": queue, "prefetch": 20}}),
                "RISKWATCH_BUS_METRICS_PORT": str(bus_metrics),
                "RISKWATCH_BUS_BATCH_WAIT_MS": "5",
            }) as stack:
        every_process = {GATEWAY.name, *(app.name for app in SERVICES),
                         *(worker.name for worker in WORKERS)}
        assert set(stack.processes) == every_process
        database = Database(postgres_url)
        stack.ensure_admin_key(database)
        database.dispose()
        with stack.client() as api:
            _run_the_whole_path(stack, api, hook, queue)
        consumed = httpx.get(f"http://127.0.0.1:{bus_metrics}/metrics").text
        assert ('riskwatch_bus_messages_consumed_total{outcome="accepted",source="collections"}'
                ' 1.0') in consumed, "the default did not come in through the bus consumer"
        exited = {name: p.returncode for name, p in stack.processes.items()
                  if p.poll() is not None}
        assert not exited, f"processes exited during the test: {exited}"


def _run_the_whole_path(stack: Stack, api: httpx.Client, hook: Receiver, queue: str) -> None:
    registered = api.post("/v1/receivers", json={
        "name": "e2e-desk", "kind": "webhook", "url": hook.url, "secret": hook.secret})
    assert registered.status_code == 201, registered.text
    receiver_id = registered.json()["id"]

    portfolio = simulate(SimConfig(customers=CUSTOMERS, months=6, seed=11))
    push_through_api(portfolio, gateway=stack.gateway, api_key=stack.admin_key)
    expected = collections.Counter(event["subject"] for event in portfolio.events())
    names = {c["customer_id"]: c["name"] for c in portfolio.customers}

    # Events stored for every customer, every customer scored and tiered, nothing left queued.
    def settled() -> tuple[dict[str, dict[str, Any]] | None, str]:
        risks: dict[str, dict[str, Any]] = {}
        for customer_id, count in sorted(expected.items()):
            profile = api.get(f"/v1/customers/{customer_id}")
            stored = profile.json()["history"]["total_events"] if profile.is_success else None
            if stored != count:
                return None, f"{customer_id}: {stored} of {count} events stored"
            risk = api.get(f"/v1/customers/{customer_id}/risk")
            if risk.status_code != 200:
                return None, f"{customer_id}: risk {risk.status_code} {risk.text[:200]}"
            risks[customer_id] = risk.json()
        pending = _pending_work(api)
        return (risks, "") if pending == 0 else (None, f"{pending} work items pending")

    risks = poll("the portfolio stored, scored and settled", settled)
    assert set(risks) == set(names)
    for customer_id, risk in risks.items():
        assert risk["tier"] in ("low", "medium", "high"), (customer_id, risk["tier"])
        assert 0.0 <= risk["pd_default"] <= 1.0, (customer_id, risk["pd_default"])

    # A customer in good standing defaults: the news comes over the message bus.
    candidates = [c for c, r in sorted(risks.items()) if r["tier"] == "low"
                  and not api.get("/v1/reviews", params={"customer_id": c,
                                                         "status": "open"}).json()["items"]]
    tiers = {c: r["tier"] for c, r in risks.items()}
    assert candidates, f"no low-tier customer without an open review: {tiers}"
    customer = candidates[0]
    asyncio.run(_publish(queue, {
        "specversion": "1.0", "id": f"default-{customer}", "source": BUS_SOURCE,
        "type": "customer.defaulted", "subject": customer,
        "time": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": {"reason": "insolvency filed"}}))

    def defaulted() -> tuple[dict[str, Any] | None, str]:
        profile = api.get(f"/v1/customers/{customer}").json()
        stored = profile["history"]["total_events"]
        risk = api.get(f"/v1/customers/{customer}/risk").json()
        state = f"{stored} events stored, tier {risk.get('tier')}"
        return (risk, state) if stored == expected[customer] + 1 and \
            risk.get("tier") == "high" else (None, state)

    risk = poll("the bus event stored and the customer rescored high", defaulted)
    assert risk["pd_default"] == 1.0

    def alert_opened() -> tuple[dict[str, Any] | None, str]:
        alerts = api.get("/v1/alerts", params={"customer_id": customer}).json()["items"]
        found = [a for a in alerts if a["rule_name"] == "Customer defaulted"]
        return (found[0], "") if found else (None, f"alerts: {[a['rule_name'] for a in alerts]}")

    alert = poll("the default's alert", alert_opened)
    assert alert["status"] == "open" and alert["severity"] == "critical", alert

    def delivered() -> tuple[list[Delivery] | None, str]:
        got = [d for d in hook.received()
               if d.document["data"]["alert"]["id"] == alert["id"]]
        types = sorted(d.document["type"] for d in got)
        return (got, "") if {"alert.opened", "playbook.run_started"} <= set(types) else (
            None, f"{len(hook.received())} deliveries in all, for this alert: {types}")

    deliveries = poll("the alert and its run delivered to the receiver", delivered)
    for delivery in deliveries:
        assert verify.webhook_signature_valid(hook.secret, delivery.headers, delivery.body), \
            delivery.headers
    assert not verify.webhook_signature_valid(
        "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        deliveries[0].headers, deliveries[0].body), "a wrong secret must not verify"
    opened = next(d.document for d in deliveries if d.document["type"] == "alert.opened")
    assert opened["data"]["alert"]["customer_id"] == customer
    answers = api.get(f"/v1/alerts/{alert['id']}/deliveries").json()["items"]
    assert {d["status"] for d in answers if d["receiver_id"] == receiver_id} == {"delivered"}

    runs = api.get("/v1/playbook-runs", params={"customer_id": customer}).json()["items"]
    assert [(r["playbook_name"], r["alert_id"]) for r in runs] == [
        ("Customer default", alert["id"])]

    def reviewed() -> tuple[dict[str, Any] | None, str]:
        items = api.get("/v1/reviews", params={"customer_id": customer}).json()["items"]
        found = [r for r in items if r["kind"] == "triggered" and r["status"] == "open"]
        return (found[0], "") if found else (None, f"reviews: {items}")

    review = poll("the triggered review", reviewed)
    assert review["reason"] == "tier worsened: low -> high" and review["tier"] == "high"

    desk = sign_in(stack.gateway, stack.admin_key)
    try:
        page = desk.get(f"/ui/customers/{customer}")
    finally:
        desk.close()
    assert page.status_code == 200, page.text[:500]
    assert customer in page.text and names[customer] in page.text

    _check_the_audit_log(api, alert_id=alert["id"], receiver_id=receiver_id)


def _check_the_audit_log(api: httpx.Client, *, alert_id: int, receiver_id: int) -> None:
    """Sequenced up to now, verified by the service, and verified here offline from the
    export, as a partner would: the checkpoint's signature, each entry's leaf under its
    root, and among them the entries that opened the alert and created the receiver."""
    def sequenced() -> tuple[dict[str, Any] | None, str]:
        result = api.get("/v1/audit/verify").json()
        return (result, "") if result["unsequenced"] == 0 and result["tree_size"] > 0 else (
            None, json.dumps(result))

    result = poll("every audit entry sequenced", sequenced)
    assert result["ok"] and result["problem"] is None, result
    assert result["entries"] == result["tree_size"] and result["checkpoints"] >= 1, result
    checkpoint = api.get("/v1/audit/checkpoint").json()
    assert checkpoint["tree_size"] >= result["tree_size"]  # the log only grows
    verifier_key = api.get("/v1/audit/public-key").json()["verifier_key"]
    signed = verify.open_checkpoint(checkpoint["note"], verifier_key)
    assert (signed.tree_size, base64.b64encode(signed.root_hash).decode()) == (
        checkpoint["tree_size"], checkpoint["root_hash"])

    lines = [json.loads(line) for line in api.get("/v1/audit/export").text.splitlines()]
    header, entries, end = lines[0], lines[1:-1], lines[-1]
    exported = verify.open_checkpoint(header["checkpoint"], verifier_key)
    assert end == {"type": "end", "entries": len(entries), "complete": True}
    assert [e["leaf_index"] for e in entries] == list(range(exported.tree_size))
    contents = []
    for entry in entries:
        leaf = entry["canonical"].encode()
        root = verify.inclusion_root(leaf, entry["leaf_index"], exported.tree_size,
                                     [base64.b64decode(h) for h in entry["inclusion"]])
        assert root == exported.root_hash, f"entry {entry['entry_id']} is not under the root"
        contents.append(json.loads(leaf))
    assert any(c["action"] == "alerts.opened" and alert_id in c["details"]["alert_ids"]
               for c in contents), "the alert's opening is not in the signed log"
    assert any(c["action"] == "receiver.created" and c["subject_id"] == str(receiver_id)
               for c in contents), "the receiver's creation is not in the signed log"
