"""Group commit (shared/group_commit.py): requests that arrive together share one write, and
each still gets exactly its own answer, its own error, or is left out when it stops waiting.

The writes here are plain functions so the batching itself can be watched; ingest's single
events exercise it on both databases (tests/ingest/test_event_group_commit.py)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from shared.group_commit import GroupCommit

caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)


class Recorder:
    """A write that records each batch, can be held before it writes, and refuses 'bad'."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.callers: list[str | None] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.writing = 0  # writes under way at once, at most
        self._lock = threading.Lock()
        self._now = 0

    def write(self, items: list[str]) -> list[str]:
        with self._lock:
            self._now += 1
            self.writing = max(self.writing, self._now)
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        self.callers.append(caller.get())
        with self._lock:
            self._now -= 1
        if "bad" in items:
            raise ValueError("refused: bad")
        return [f"stored {item}" for item in items]


async def _wait_for(event: threading.Event) -> None:
    for _ in range(1000):
        if event.is_set():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the write never started")


def _run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


def _behind_a_held_write(commits: GroupCommit[str, str], recorder: Recorder, first: str,
                         rest: Sequence[str]) -> list[Any]:
    """Submit ``first`` and hold its write; submit ``rest`` meanwhile; then let the writes
    go. Every caller's answer (or exception), in the order submitted."""

    async def scenario() -> list[Any]:
        recorder.gate.clear()
        held = asyncio.create_task(commits.submit(first))
        await _wait_for(recorder.entered)  # ``first`` is being written, alone
        queued = [asyncio.create_task(commits.submit(x)) for x in rest]
        await asyncio.sleep(0.05)
        recorder.gate.set()
        return await asyncio.gather(held, *queued, return_exceptions=True)

    return _run(scenario)


def test_items_that_arrive_during_a_write_share_the_next_one() -> None:
    recorder = Recorder()
    sizes: list[int] = []
    commits = GroupCommit(recorder.write, max_items=100, on_flush=sizes.append)
    assert _behind_a_held_write(commits, recorder, "a", "bcd") == [
        "stored a", "stored b", "stored c", "stored d"]
    assert recorder.batches == [["a"], ["b", "c", "d"]]
    assert sizes == [1, 3]  # what the riskwatch_group_commit_items metric is told


def test_a_lone_item_is_written_at_once() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100)

    async def scenario() -> list[str]:
        return [await commits.submit("a"), await commits.submit("b")]

    assert _run(scenario) == ["stored a", "stored b"]
    assert recorder.batches == [["a"], ["b"]]


def test_no_write_takes_more_than_max_items() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=2)
    assert _behind_a_held_write(commits, recorder, "a", "bcdef") == [
        f"stored {x}" for x in "abcdef"]
    assert recorder.batches == [["a"], ["b", "c"], ["d", "e"], ["f"]]


def test_with_two_writers_the_next_batch_does_not_wait_for_the_last_commit() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100, writers=2)

    async def scenario() -> list[str]:
        recorder.gate.clear()
        first = asyncio.create_task(commits.submit("a"))
        await _wait_for(recorder.entered)
        second = asyncio.create_task(commits.submit("b"))
        await asyncio.sleep(0.1)
        rest = [asyncio.create_task(commits.submit(x)) for x in ("c", "d")]
        await asyncio.sleep(0.05)
        recorder.gate.set()
        return await asyncio.gather(first, second, *rest)

    assert _run(scenario) == ["stored a", "stored b", "stored c", "stored d"]
    assert recorder.writing == 2
    # "a" and "b" each written at once; "c" and "d", queued while both ran, together.
    assert sorted(map(tuple, recorder.batches)) == [("a",), ("b",), ("c", "d")]


def test_an_item_the_write_refuses_fails_only_its_own_caller() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100)
    results = _behind_a_held_write(commits, recorder, "a", ["b", "bad", "c"])
    assert results[:2] == ["stored a", "stored b"] and results[3] == "stored c"
    assert isinstance(results[2], ValueError) and "refused: bad" in str(results[2])
    # The refused batch was written again one item at a time.
    assert recorder.batches == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


def test_a_caller_that_stops_waiting_leaves_the_others_answered() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100)

    async def scenario() -> list[Any]:
        recorder.gate.clear()
        first = asyncio.create_task(commits.submit("a"))
        await _wait_for(recorder.entered)
        gone = asyncio.create_task(commits.submit("b"))
        stays = asyncio.create_task(commits.submit("c"))
        await asyncio.sleep(0.05)
        gone.cancel()
        recorder.gate.set()
        return await asyncio.gather(first, gone, stays, return_exceptions=True)

    results = _run(scenario)
    assert results[0] == "stored a" and results[2] == "stored c"
    assert isinstance(results[1], asyncio.CancelledError)
    assert recorder.batches == [["a"], ["b", "c"]]  # "b" was written with its batch


def test_a_write_does_not_run_under_the_first_callers_context() -> None:
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100)

    async def one(name: str) -> str:
        caller.set(name)  # each task has its own copy of the context, as each request has
        return await commits.submit(name)

    async def scenario() -> list[str]:
        return await asyncio.gather(one("a"), one("b"))

    assert _run(scenario) == ["stored a", "stored b"]
    assert recorder.callers and set(recorder.callers) == {None}


def test_one_instance_serves_one_event_loop_after_another() -> None:
    """A test client runs a new event loop per block; the same app keeps answering."""
    recorder = Recorder()
    commits = GroupCommit(recorder.write, max_items=100)
    assert asyncio.run(commits.submit("a")) == "stored a"
    assert asyncio.run(commits.submit("b")) == "stored b"


def test_max_items_and_writers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_items"):
        GroupCommit(Recorder().write, max_items=0)
    with pytest.raises(ValueError, match="writers"):
        GroupCommit(Recorder().write, max_items=1, writers=0)
