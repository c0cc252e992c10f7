"""Real local receivers for the receivers' tests: an HTTP server that verifies Standard
Webhooks signatures with the ``standardwebhooks`` library, an SMTP server (aiosmtpd), a port
nobody listens on, and one that accepts connections but never answers."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook, WebhookVerificationError

from services.alerts.receivers.loops import notification_loops
from services.alerts.receivers.settings import ReceiverSettings
from shared import queue
from shared.db import Database
from shared.topics import ALERTS_NOTIFY
from shared.worker import Worker
from tests.stack import free_port


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def fast_settings(**changes: Any) -> ReceiverSettings:
    """Short waits so a test sees backoff, retries and failure within a second or two."""
    values: dict[str, Any] = {"delivery_max_attempts": 4, "delivery_timeout_seconds": 2.0,
                              "delivery_backoff_base_seconds": 0.05,
                              "delivery_backoff_max_seconds": 1.0, "delivery_loops": 2}
    return ReceiverSettings(**{**values, **changes})


def snapshot(alert_id: int = 17, *, notification: str = "opened", severity: str = "critical",
             rule_id: int = 3, tier: str | None = "high", drill: bool = False,
             customer_id: str = "cust-001") -> dict[str, Any]:
    """An ``alerts.notify`` payload as the alerts core writes it (the contract's example)."""
    return {"notification": notification, "alert": {
        "id": alert_id, "rule_id": rule_id, "rule_name": "Days past due over 60",
        "rule_version": 2, "kind": "threshold", "severity": severity, "status": "open",
        "customer_id": customer_id, "customer_name": "Acme", "tier": tier,
        "title": "Days past due 75 ≥ 60", "summary": "75 days past due on INV-7.",
        "values": {"days_past_due": 75},
        "reasons": [{"feature": "days_past_due", "text": "75 days past due", "points": -40}],
        "opened_at": "2026-11-30T01:00:00Z", "last_seen_at": "2026-11-30T01:05:00Z",
        "hit_count": 3, "drill": drill}}


def notify(db: Database, *payloads: dict[str, Any]) -> None:
    with db.transaction() as session:
        for payload in payloads:
            queue.enqueue(session, topic=ALERTS_NOTIFY, key=payload["alert"]["customer_id"],
                          payload=payload)


def worker(db: Database, settings: ReceiverSettings) -> Worker:
    return Worker(name="alerts-test", db=db, loops=notification_loops(settings))


def drain(work: Worker, *, seconds: float = 15.0) -> None:
    """Run the loops until no work is left, waiting out backoff delays."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if work.run_once() == 0:
            with work.db.transaction() as session:
                if not any(d.topic.startswith("alerts.") and d.status == "pending"
                           for d in queue.depth(session)):
                    return
            time.sleep(0.02)
    raise AssertionError("the alerts queue did not drain")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    """A receiver over real HTTP: verifies each request's signature with the
    ``standardwebhooks`` library (401 when it does not verify), then answers with the next
    queued (status, body), or 200 "ok"."""

    secret: str
    port: int
    received: list[Received] = field(default_factory=list)
    answers: deque[tuple[int, bytes]] = field(default_factory=deque)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/riskwatch"


@contextmanager
def webhook_server(secret: str | None = None, port: int | None = None
                   ) -> Iterator[WebhookServer]:
    state = WebhookServer(secret=secret or new_secret(), port=port or free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(state.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            state.received.append(Received(headers, body, verified))
            status, answer = ((401, b"bad signature") if not verified else
                              state.answers.popleft() if state.answers else (200, b"ok"))
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mailbox:
    port: int
    messages: list[Any] = field(default_factory=list)

    def apprise_url(self, to: str = "credit@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}/{to}?from=riskwatch@example.com"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server on a free local port (aiosmtpd), keeping what it receives."""
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def down_url() -> str:
    """An address nobody listens on: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}/hooks"


@contextmanager
def silent_server() -> Iterator[str]:
    """An address that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
