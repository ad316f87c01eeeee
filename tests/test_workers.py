"""Tests for labthings_async.workers: the threads threaded actions run in."""

import asyncio
import contextvars
import threading
import weakref
from typing import Any

import pytest
from things import TIMEOUT

from labthings_async.bridge import EventBridge
from labthings_async.events import Event, EventHub, Topic
from labthings_async.workers import WorkerPool

colour: contextvars.ContextVar[str] = contextvars.ContextVar("colour", default="none")


class Results:
    """Collects what ``done`` receives, and wakes a waiter per result."""

    def __init__(self) -> None:
        self.received: list[tuple[Any, Any]] = []
        self.changed = asyncio.Event()

    def done(self, argument: Any, result: Any) -> None:
        self.received.append((argument, result))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while len(self.received) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def bridge() -> EventBridge:
    bridge = EventBridge(EventHub())
    bridge.open(asyncio.get_running_loop())
    return bridge


async def test_a_result_comes_back_after_the_events_its_job_sent(bridge: EventBridge) -> None:
    topic = Topic(100)
    pool = WorkerPool(bridge, 4)
    seen_at_done: list[int] = []

    def job(count: int) -> str:
        for n in range(count):
            bridge.send(Event.encode("log", n), topic)
        return f"sent {count}"

    def done(argument: int, result: str) -> None:
        seen_at_done.append(len(topic))
        results.done(argument, result)

    results = Results()
    pool.submit(job, 50, done)
    await results.wait_for(1)
    assert results.received == [(50, "sent 50")]
    assert seen_at_done == [50]  # every event was published before the result
    pool.close()


async def test_a_thread_is_started_only_when_every_one_is_busy(bridge: EventBridge) -> None:
    pool = WorkerPool(bridge, 3)
    results = Results()
    for n in range(5):  # One after another: one thread does them all.
        pool.submit(lambda n: n * 2, n, results.done)
        await results.wait_for(n + 1)
    assert [result for _, result in results.received] == [0, 2, 4, 6, 8]
    assert pool.threads == 1
    assert pool.busy == 0
    gate = threading.Event()
    for n in range(3):
        pool.submit(lambda n: gate.wait(TIMEOUT) and n, n, results.done)
    assert pool.full
    assert pool.threads == 3
    with pytest.raises(RuntimeError, match="all 3 worker threads are busy"):
        pool.submit(lambda n: n, 0, results.done)
    gate.set()
    await results.wait_for(8)
    assert sorted(result for _, result in results.received[5:]) == [0, 1, 2]
    assert not pool.full
    pool.close()


async def test_a_job_runs_in_a_copy_of_the_context_it_came_from(bridge: EventBridge) -> None:
    pool = WorkerPool(bridge, 1)
    results = Results()

    def paint(new: str) -> str:
        old = colour.get()
        colour.set(new)
        return old

    colour.set("blue")
    pool.submit(paint, "red", results.done)
    await results.wait_for(1)
    pool.submit(paint, "green", results.done)
    await results.wait_for(2)
    # Each job saw the submitter's value; what a job set stayed in its own copy.
    assert results.received == [("red", "blue"), ("green", "blue")]
    assert colour.get() == "blue"
    assert pool.threads == 1
    pool.close()


async def test_nothing_of_a_finished_job_stays_alive(bridge: EventBridge) -> None:
    class Payload:
        pass

    pool = WorkerPool(bridge, 2)
    results = Results()
    payload = Payload()
    alive = weakref.ref(payload)
    pool.submit(lambda payload: None, payload, results.done)
    del payload
    await results.wait_for(1)
    results.received.clear()
    # Freed by reference counting alone: no idle thread or queue keeps it.
    assert alive() is None
    pool.close()


async def test_closing_ends_the_idle_threads_and_a_later_job_gets_a_new_one(
    bridge: EventBridge,
) -> None:
    pool = WorkerPool(bridge, 2, name="closing test worker")
    results = Results()
    pool.submit(lambda n: n, 1, results.done)
    await results.wait_for(1)
    before = {thread for thread in threading.enumerate() if thread.name == pool.name}
    assert len(before) == 1
    pool.close()
    for thread in before:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    pool.submit(lambda n: n, 2, results.done)
    await results.wait_for(2)
    assert results.received[-1] == (2, 2)
    assert pool.threads == 1
    pool.close()


async def test_a_result_after_the_bridge_closed_is_dropped(bridge: EventBridge) -> None:
    pool = WorkerPool(bridge, 1, name="abandoned test worker")
    results = Results()
    gate = threading.Event()
    finished = threading.Event()

    def job(n: int) -> int:
        gate.wait(TIMEOUT)
        finished.set()
        return n

    pool.submit(job, 1, results.done)
    threads = [thread for thread in threading.enumerate() if thread.name == pool.name]
    bridge.close()  # The manager stopped while the job ran: it is abandoned.
    pool.close()
    gate.set()
    for thread in threads:  # It hands back its result, then ends.
        await asyncio.to_thread(thread.join, TIMEOUT)
        assert not thread.is_alive()
    assert finished.is_set()
    await asyncio.sleep(0)  # Anything scheduled on the loop would run now.
    assert results.received == []
