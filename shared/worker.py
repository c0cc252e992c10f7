"""The worker every service runs: it declares what it consumes (:class:`Loop`) and when it
runs scheduled jobs (:class:`Schedule`); this module claims, handles each item or batch in
one transaction together with its acks, and records failures for retry."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlalchemy.orm import Session

from shared import queue
from shared.db import Database
from shared.settings import get_settings

Handler = Callable[[Session, queue.ClaimedItem], None]
# Takes all the claimed items of its topic at once (set-based work, e.g. one feature query
# for a batch of customers). Called again with one item at a time when the batch fails.
BatchHandler = Callable[[Session, Sequence[queue.ClaimedItem]], None]
log = logging.getLogger("riskwatch.worker")


@dataclass
class Loop:
    """One claim loop: the topics it consumes and how. Each loop of a worker runs in its own
    thread, so slow work on one (training a model) never delays another (rescoring)."""

    name: str = "main"
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    batch_handlers: Mapping[str, BatchHandler] = field(default_factory=dict)
    batch_size: int | None = None  # default: RISKWATCH_WORKER_BATCH_SIZE
    poll_seconds: float | None = None  # default: RISKWATCH_WORKER_POLL_SECONDS


@dataclass(frozen=True)
class Schedule:
    """A job run on a cron schedule (APScheduler cron fields, UTC), given the database.
    Every replica runs it, so the job must make a repeat harmless (a unique key)."""

    id: str
    job: Callable[[Database], object]
    cron: Mapping[str, int | str]
    misfire_grace_seconds: int = 3600
    run_at_start: bool = False  # also once when the worker starts (upkeep a new install needs)


WORK_CHANNEL = "riskwatch_work"  # notified for each enqueue (migration 0015)


class Wakeups:
    """Tells a worker's idle loops that work was enqueued: a connection of its own LISTENs
    on PostgreSQL, and each notification wakes every loop, which then claims at once. So an
    idle loop need not poll fast: it waits ``worker_listen_poll_seconds`` (for work that
    comes due later) instead of ``worker_poll_seconds``. On SQLite, or while the connection
    is down, nothing is listening and the loops poll as before."""

    def __init__(self, db: Database, stopping: threading.Event) -> None:
        self.db = db
        self.stopping = stopping
        self.listening = threading.Event()
        self._events: list[threading.Event] = []

    def subscribe(self) -> threading.Event:
        event = threading.Event()
        self._events.append(event)
        return event

    def wake_all(self) -> None:
        for event in self._events:
            event.set()

    def start(self) -> threading.Thread | None:
        if self.db.engine.dialect.name != "postgresql":
            return None
        thread = threading.Thread(target=self._run, name="wakeups", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        dialect, url = self.db.engine.dialect, self.db.engine.url
        while not self.stopping.is_set():
            try:
                cargs, cparams = dialect.create_connect_args(url)
                with dialect.loaded_dbapi.connect(*cargs, **cparams) as conn:
                    conn.autocommit = True
                    conn.execute(f"LISTEN {WORK_CHANNEL}")
                    self.listening.set()
                    self.wake_all()  # whatever was enqueued while nobody listened
                    while not self.stopping.is_set():
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            self.wake_all()
            except Exception as exc:  # noqa: BLE001 - the database restarting: poll meanwhile
                log.warning("listening for new work failed (%s); polling until it is back",
                            type(exc).__name__)
            self.listening.clear()
            self.wake_all()
            self.stopping.wait(1.0)


class Consumer:
    """A running :class:`Loop`: claim a batch, handle it, wait when there is nothing (until
    told of new work, or the next poll)."""

    def __init__(self, loop: Loop, *, name: str, db: Database,
                 stopping: threading.Event, wakeups: Wakeups | None = None) -> None:
        settings = get_settings()
        both = set(loop.handlers) & set(loop.batch_handlers)
        if both:
            raise ValueError(f"topics with two handlers: {sorted(both)}")
        self.name = loop.name
        self.db = db
        self.handlers = dict(loop.handlers)
        self.batch_handlers = dict(loop.batch_handlers)
        self.batch_size = loop.batch_size or settings.worker_batch_size
        self.poll_seconds = (settings.worker_poll_seconds if loop.poll_seconds is None
                             else loop.poll_seconds)
        self.listen_poll_seconds = max(settings.worker_listen_poll_seconds, self.poll_seconds)
        self.wakeups = wakeups
        self.woken = wakeups.subscribe() if wakeups is not None else threading.Event()
        self.worker_id = f"{name}@{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stopping = stopping

    @property
    def topics(self) -> list[str]:
        return [*self.handlers, *self.batch_handlers]

    def run_once(self) -> int:
        """Claim one batch and process it; returns how many items were claimed."""
        with self.db.transaction() as session:
            items = queue.claim(session, topics=self.topics, worker_id=self.worker_id,
                                limit=self.batch_size)
        by_topic: dict[str, list[queue.ClaimedItem]] = {}
        for item in items:
            by_topic.setdefault(item.topic, []).append(item)
        for topic, claimed in by_topic.items():
            if self.stopping.is_set():
                break  # unprocessed items come back when their lease expires
            if topic in self.batch_handlers:
                self._process_batch(self.batch_handlers[topic], claimed)
            else:
                for item in claimed:
                    if self.stopping.is_set():
                        break
                    self._process(self.handlers[topic], item)
        return len(items)

    def _process_batch(self, handler: BatchHandler,
                       items: list[queue.ClaimedItem]) -> None:
        if len(items) > 1:
            try:
                with self.db.transaction() as session:
                    handler(session, items)
                    self._ack(session, items)
                return
            except Exception as exc:  # noqa: BLE001 - fall back to one by one
                log.warning("batch of %s %s items failed (%s); handling them one by one",
                            len(items), items[0].topic, exc)
        # One at a time, so one bad item is retried and dead-lettered by itself.
        for item in items:
            if self.stopping.is_set():
                break
            self._process(lambda session, one: handler(session, [one]), item)

    def _process(self, handler: Handler, item: queue.ClaimedItem) -> None:
        try:
            with self.db.transaction() as session:
                handler(session, item)
                self._ack(session, [item])
        except LeaseLost:
            log.warning("lease lost on work item %s; left to its new holder", item.id)
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.warning("work item %s (%s) failed: %s", item.id, item.topic, error)
            with self.db.transaction() as session:
                status = queue.fail(session, item.id, worker_id=self.worker_id, error=error)
            if status == queue.ItemStatus.DEAD:
                log.error("work item %s dead-lettered after %s attempts", item.id, item.attempts)

    def _ack(self, session: Session, items: Sequence[queue.ClaimedItem]) -> None:
        if queue.ack_many(session, [item.id for item in items],
                          worker_id=self.worker_id) != len(items):
            # A lease expired and someone else holds an item: undo our effects (a batch
            # then goes one by one, so only the lost item is left to its new holder).
            raise LeaseLost(items[0].id if len(items) == 1 else [item.id for item in items])

    def run_forever(self) -> None:
        log.info("worker %s consuming %s", self.worker_id, ", ".join(self.topics))
        while not self.stopping.is_set():
            # Cleared before the claim: work enqueued while it runs wakes the wait below.
            self.woken.clear()
            try:
                handled = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. database restarting: wait and go on
                log.exception("claiming work failed; retrying")
                handled = 0
            if handled == 0:
                listening = self.wakeups is not None and self.wakeups.listening.is_set()
                self.woken.wait(self.listen_poll_seconds if listening else self.poll_seconds)


class Worker:
    """A worker process: its loops (the first on the calling thread, each other in a thread
    of its own) and its schedules, stopped together by SIGTERM / SIGINT."""

    def __init__(self, *, name: str, db: Database, loops: Sequence[Loop],
                 schedules: Sequence[Schedule] = ()) -> None:
        if not loops:
            raise ValueError("a worker needs at least one loop")
        self.name = name
        self.db = db
        self.stopping = threading.Event()
        self.wakeups = Wakeups(db, self.stopping)
        self.consumers = [
            Consumer(loop, name=name if i == 0 else f"{name}-{loop.name}", db=db,
                     stopping=self.stopping, wakeups=self.wakeups)
            for i, loop in enumerate(loops)]
        self.schedules = list(schedules)

    def consumer(self, loop_name: str) -> Consumer:
        return next(c for c in self.consumers if c.name == loop_name)

    def run_once(self) -> int:
        """One batch of each loop, in this thread (tests, and draining a queue by hand)."""
        return sum(consumer.run_once() for consumer in self.consumers)

    def stop(self) -> None:
        self.stopping.set()
        self.wakeups.wake_all()  # an idle loop stops now, not at its next poll

    def run_forever(self) -> None:
        scheduler = self._start_scheduler()
        self.wakeups.start()
        threads = [threading.Thread(target=c.run_forever, name=f"{self.name}-{c.name}",
                                    daemon=True) for c in self.consumers[1:]]
        for thread in threads:
            thread.start()
        try:
            self.consumers[0].run_forever()
        finally:
            self.stop()
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            for thread in threads:
                thread.join(timeout=30)

    def _start_scheduler(self) -> Any:  # an APScheduler BackgroundScheduler, or None
        if not self.schedules:
            return None
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(timezone="UTC")
        for schedule in self.schedules:
            first = {"next_run_time": dt.datetime.now(dt.UTC)} if schedule.run_at_start else {}
            scheduler.add_job(schedule.job, "cron", args=[self.db], id=schedule.id,
                              misfire_grace_time=schedule.misfire_grace_seconds,
                              coalesce=True, **first, **schedule.cron)
        scheduler.start()
        return scheduler

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker %s stopping (signal %s)", self.name, signum)
            # Only the flag here (a handler must not take a lock its thread may hold): the
            # listening thread sees it within a second and wakes the idle loops.
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


class LeaseLost(Exception):
    pass
