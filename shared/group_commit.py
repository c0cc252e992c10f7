"""Group commit: concurrent requests' small writes share one unit of work and one commit.

Each request queues its item and waits. A flush takes everything queued (up to
``max_items``) to a worker thread, writes it in one transaction, and answers each request
with its own result once that transaction has committed. For a write as small as one
CloudEvent, the thread hop, the session, the statement and the commit around it cost several
times the row itself; shared by the requests that arrived together, they are paid once.

One flush runs at a time, or up to ``writers`` when a batch mostly waits for its commit's
flush to disk rather than for the CPU (a credit decision's one audit entry, as against a
batch of events to parse and store). There is no timer: a lone item is flushed at once, and
the items that arrive while the flushes run form the next one. So the batch grows with the
load, and the wait for a batch is never longer than one flush.

What each caller sees stays what it would be alone: its own result, or the exception of its
own item. A batch that fails is written again item by item, each in its own transaction, so
one bad item fails only its own request. Nothing is answered before its commit, so a crash
loses only unanswered items, which their senders retry (writes through here must be
idempotent, as event ingest is on (source, id)).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio.to_thread

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """``write(items)`` commits ``items`` in one unit of work and returns one result per
    item, in order. It runs on a worker thread, at most ``writers`` calls at a time: with
    two, the next batch is written while the last one waits for its commit's flush to disk."""

    def __init__(self, write: Callable[[list[Item]], Sequence[Result]], *,
                 max_items: int, writers: int = 1,
                 on_flush: Callable[[int], None] | None = None) -> None:
        if max_items < 1 or writers < 1:
            raise ValueError("max_items and writers must be at least 1")
        self._write = write
        self.max_items = max_items
        self.writers = writers
        self._on_flush = on_flush  # told each committed batch's size (a metric)
        self._queue: deque[tuple[Item, asyncio.Future[Result]]] = deque()
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """``item``'s result once it is committed (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        self._flushers = {task for task in self._flushers
                          if not task.done() and task.get_loop() is loop}
        if len(self._flushers) < self.writers:
            # A context of its own: the flush serves many requests, and must not log under
            # (or otherwise carry) the request id of whichever one started it.
            self._flushers.add(loop.create_task(self._flush_queue(loop),
                                                context=contextvars.Context()))
        # A caller that goes away stops waiting; its item is still written with its batch.
        return await future

    async def _flush_queue(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._queue:
            batch = [self._queue.popleft()
                     for _ in range(min(len(self._queue), self.max_items))]
            # Items queued on another (closed) event loop have nobody left to answer.
            batch = [entry for entry in batch if entry[1].get_loop() is loop]
            if batch:
                await self._flush(batch)

    async def _flush(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await anyio.to_thread.run_sync(self._write, [item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            # Nothing of the batch was committed: each item again on its own, so one item
            # the database refuses fails only its own request.
            for entry in batch:
                await self._flush([entry])
            return
        except BaseException:  # cancelled (the loop is shutting down): nobody is answered
            for _, future in batch:
                future.cancel()
            raise
        if len(results) != len(batch):
            error = RuntimeError(f"write returned {len(results)} results for {len(batch)} "
                                 "items")
            for _, future in batch:
                _settle(future, error=error)
            return
        if self._on_flush is not None:
            self._on_flush(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[Result], *, result: Result | None = None,
            error: BaseException | None = None) -> None:
    if future.done():  # its caller stopped waiting
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
