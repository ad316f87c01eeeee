"""Tests for labthings_async.bridge: events from worker threads reach the loop in order."""

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from things import TIMEOUT

from labthings_async.bridge import EventBridge
from labthings_async.events import Event, EventHub, Topic


class CountingBridge(EventBridge):
    """Counts the flushes the loop runs, to show a burst costs one wake-up."""

    def __init__(self, hub: EventHub) -> None:
        super().__init__(hub)
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def progress(value: int) -> Event:
    return Event.encode("progress", value)


def log(text: str) -> Event:
    return Event.encode("log", text)


def seen(topic: Topic) -> list[tuple[str, Any]]:
    return [(event.name, event.json()) for event in topic.events_after(0)]


async def from_thread_while_the_loop_waits(work: Callable[[], None]) -> None:
    """Run ``work`` in a thread while the loop is blocked, then let the loop catch up.

    Blocking the loop on purpose makes every event the thread sends wait in
    the outbox, as they would behind a busy loop.
    """
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(TIMEOUT)  # Blocks the loop until the thread is done.
    assert not worker.is_alive()
    # The flush was scheduled with call_soon_threadsafe: one pass of the loop runs it.
    await asyncio.sleep(0)


@pytest.fixture
def hub() -> EventHub:
    return EventHub()


@pytest.fixture
async def bridge(hub: EventHub) -> CountingBridge:
    bridge = CountingBridge(hub)
    bridge.open(asyncio.get_running_loop())
    return bridge


async def test_a_burst_from_a_thread_arrives_in_order_in_one_wake_up(
    bridge: CountingBridge,
) -> None:
    topic = Topic(1000)

    def burst() -> None:
        for n in range(500):
            bridge.send(log(f"line {n}"), topic)

    await from_thread_while_the_loop_waits(burst)
    assert seen(topic) == [("log", f"line {n}") for n in range(500)]
    assert bridge.flushes == 1


async def test_progress_is_coalesced_in_place_never_ahead_of_a_log(
    bridge: CountingBridge,
) -> None:
    topic = Topic(100)

    def chatter() -> None:
        bridge.send_latest(10, topic, progress)
        bridge.send_latest(20, topic, progress)
        bridge.send(log("a"), topic)
        bridge.send_latest(30, topic, progress)
        bridge.send_latest(40, topic, progress)
        bridge.send_latest(50, topic, progress)
        bridge.send(log("b"), topic)
        bridge.send_latest(60, topic, progress)

    await from_thread_while_the_loop_waits(chatter)
    assert seen(topic) == [
        ("progress", 20),
        ("log", "a"),
        ("progress", 50),
        ("log", "b"),
        ("progress", 60),
    ]


async def test_coalescing_is_per_topic_and_keeps_the_first_place(
    bridge: CountingBridge, hub: EventHub
) -> None:
    first, second = Topic(100), Topic(100)

    def interleaved() -> None:
        for value in range(1, 4):
            bridge.send_latest(value, first, progress)
            bridge.send_latest(value * 10, second, progress)

    await from_thread_while_the_loop_waits(interleaved)
    assert seen(first) == [("progress", 3)]
    assert seen(second) == [("progress", 30)]
    assert first.events_after(0)[0].id < second.events_after(0)[0].id


async def test_a_report_also_reaches_the_shared_topics_as_the_same_event(
    bridge: CountingBridge,
) -> None:
    own, shared = Topic(100), Topic(100)

    def reports() -> None:
        bridge.send_latest(1, own, progress, also=(shared,))
        bridge.send_latest(2, own, progress, also=(shared,))
        bridge.send(log("a"), own)
        bridge.send_latest(3, own, progress, also=(shared,))

    await from_thread_while_the_loop_waits(reports)
    bridge.send_latest(4, own, progress, also=(shared,))  # On the loop: at once.
    assert seen(own) == [("progress", 2), ("log", "a"), ("progress", 3), ("progress", 4)]
    # Coalesced alike, and each the very event the own topic has (one ID).
    assert seen(shared) == [("progress", 2), ("progress", 3), ("progress", 4)]
    assert [event.id for event in shared.events_after(0)] == [
        event.id for event in own.events_after(0) if event.name == "progress"
    ]


async def test_a_shared_topic_gets_nothing_once_the_own_topic_has_closed(
    bridge: CountingBridge,
) -> None:
    own, shared = Topic(100), Topic(100)
    worker = threading.Thread(target=lambda: bridge.send_latest(1, own, progress, also=(shared,)))
    worker.start()
    worker.join(TIMEOUT)  # Queued; the loop has not run the flush yet.
    own.close()  # The invocation finished first: its late report goes nowhere.
    bridge.flush()
    bridge.send_latest(2, own, progress, also=(shared,))
    assert seen(shared) == []


async def test_a_report_after_a_flush_is_a_new_event(bridge: CountingBridge) -> None:
    topic = Topic(100)
    await from_thread_while_the_loop_waits(lambda: bridge.send_latest(1, topic, progress))
    await from_thread_while_the_loop_waits(lambda: bridge.send_latest(2, topic, progress))
    assert seen(topic) == [("progress", 1), ("progress", 2)]
    assert bridge.flushes == 2


async def test_events_for_a_topic_closed_meanwhile_are_dropped(bridge: CountingBridge) -> None:
    topic = Topic(100)
    release = threading.Event()

    def late() -> None:
        release.wait(TIMEOUT)
        bridge.send(log("after the end"), topic)
        bridge.send_latest(99, topic, progress)

    worker = threading.Thread(target=late)
    worker.start()
    topic.close()  # The invocation finished first.
    release.set()
    await anyio.to_thread.run_sync(worker.join, TIMEOUT)
    bridge.flush()
    assert seen(topic) == []


async def test_on_the_loop_what_threads_queued_goes_first(bridge: CountingBridge) -> None:
    topic = Topic(100)

    def earlier() -> None:
        bridge.send(log("from the thread"), topic)
        bridge.send_latest(1, topic, progress)

    worker = threading.Thread(target=earlier)
    worker.start()
    worker.join(TIMEOUT)  # Queued; the loop has not run the flush yet.
    bridge.send(log("from the loop"), topic)
    bridge.send_latest(2, topic, progress)  # On the loop: published at once, not coalesced.
    assert seen(topic) == [
        ("log", "from the thread"),
        ("progress", 1),
        ("log", "from the loop"),
        ("progress", 2),
    ]


async def test_after_close_nothing_is_carried(bridge: CountingBridge, hub: EventHub) -> None:
    topic = Topic(100)
    bridge.close()
    await from_thread_while_the_loop_waits(lambda: bridge.send(log("too late"), topic))
    bridge.send(log("too late, on the loop"), topic)
    assert seen(topic) == []
    assert bridge.flushes == 1  # The one close() ran; no thread scheduled another.


def test_a_closed_loop_never_crashes_a_sender() -> None:
    bridge = EventBridge(EventHub())
    topic = Topic(100)

    async def serve_briefly() -> None:
        bridge.open(asyncio.get_running_loop())

    # Opened on a loop that then closes without the bridge being closed, as
    # when a program exits while one of its threads still logs.
    runner = threading.Thread(target=asyncio.run, args=(serve_briefly(),))
    runner.start()
    runner.join(TIMEOUT)
    for n in range(1000):
        bridge.send(log(f"line {n}"), topic)
        bridge.send_latest(n, topic, progress)
    assert seen(topic) == []
