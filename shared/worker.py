"""The consumer loop every service worker runs: claim, handle each item in its own
transaction together with its ack, record failures for retry."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

from sqlalchemy.orm import Session

from shared import queue
from shared.db import Database
from shared.settings import get_settings

Handler = Callable[[Session, queue.ClaimedItem], None]
log = logging.getLogger("riskwatch.worker")


class Worker:
    def __init__(
        self,
        *,
        name: str,
        db: Database,
        handlers: dict[str, Handler],
        batch_size: int | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.db = db
        self.handlers = handlers
        self.worker_id = f"{name}@{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.batch_size = batch_size or settings.worker_batch_size
        self.poll_seconds = (settings.worker_poll_seconds if poll_seconds is None
                             else poll_seconds)
        self.stopping = threading.Event()

    @property
    def topics(self) -> Sequence[str]:
        return list(self.handlers)

    def run_once(self) -> int:
        """Claim one batch and process it; returns how many items were handled."""
        with self.db.transaction() as session:
            items = queue.claim(session, topics=self.topics, worker_id=self.worker_id,
                                limit=self.batch_size)
        for item in items:
            if self.stopping.is_set():
                break  # unprocessed items come back when their lease expires
            self._process(item)
        return len(items)

    def _process(self, item: queue.ClaimedItem) -> None:
        try:
            with self.db.transaction() as session:
                self.handlers[item.topic](session, item)
                if not queue.ack(session, item.id, worker_id=self.worker_id):
                    # Our lease expired and someone else holds the item: undo our effects.
                    raise LeaseLost(item.id)
        except LeaseLost:
            log.warning("lease lost on work item %s; left to its new holder", item.id)
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.warning("work item %s (%s) failed: %s", item.id, item.topic, error)
            with self.db.transaction() as session:
                status = queue.fail(session, item.id, worker_id=self.worker_id, error=error)
            if status == queue.ItemStatus.DEAD:
                log.error("work item %s dead-lettered after %s attempts", item.id, item.attempts)

    def run_forever(self) -> None:
        log.info("worker %s consuming %s", self.worker_id, ", ".join(self.topics))
        while not self.stopping.is_set():
            try:
                handled = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. database restarting: wait and go on
                log.exception("claiming work failed; retrying")
                handled = 0
            if handled == 0:
                self.stopping.wait(self.poll_seconds)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker %s stopping (signal %s)", self.worker_id, signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


class LeaseLost(Exception):
    pass
