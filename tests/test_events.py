"""Tests for labthings_async.events: topics, replay buffers and bounded subscriptions."""

import anyio
import anyio.lowlevel
import pytest
from things import TIMEOUT

from labthings_async.events import LOST, Event, EventHub, LostEvent, Subscription, Topic


def publish(hub: EventHub, topic: Topic, count: int, *, name: str = "tick") -> list[int]:
    """Publish ``count`` events numbered in their payload; returns their IDs."""
    ids = []
    for n in range(count):
        event = Event.encode(name, {"n": n}, thing="t", affordance=name)
        hub.publish(event, topic)
        ids.append(event.id)
    return ids


def drain(subscription: Subscription) -> list[Event]:
    """Everything readable without waiting."""
    events = []
    while (event := subscription.next_nowait()) is not None:
        events.append(event)
    return events


async def read(subscription: Subscription, count: int) -> list[Event]:
    with anyio.fail_after(TIMEOUT):
        return [await anext(subscription) for _ in range(count)]


async def read_to_end(subscription: Subscription) -> list[Event]:
    with anyio.fail_after(TIMEOUT):
        return [event async for event in subscription]


def test_ids_increase_across_topics() -> None:
    hub = EventHub()
    first, second = Topic(10), Topic(10)
    ids = publish(hub, first, 2) + publish(hub, second, 2) + publish(hub, first, 1)
    assert ids == [1, 2, 3, 4, 5]
    assert [event.id for event in first.events_after(0)] == [1, 2, 5]


def test_topic_buffer_is_bounded() -> None:
    hub, topic = EventHub(), Topic(3)
    publish(hub, topic, 10)
    assert len(topic) == 3
    assert [event.id for event in topic.events_after(0)] == [8, 9, 10]
    assert topic.evicted_through == 7
    assert [event.id for event in topic.events_after(8)] == [9, 10]


async def test_replay_then_live() -> None:
    hub, topic = EventHub(), Topic(100)
    publish(hub, topic, 3)
    async with topic.subscribe(after=0) as subscription:
        replayed = await read(subscription, 3)
        live_ids = publish(hub, topic, 2)
        live = await read(subscription, 2)
    assert [event.id for event in replayed] == [1, 2, 3]
    assert [event.id for event in live] == live_ids == [4, 5]
    assert [event.json()["n"] for event in replayed + live] == [0, 1, 2, 0, 1]


async def test_live_only_skips_the_buffer() -> None:
    hub, topic = EventHub(), Topic(100)
    publish(hub, topic, 3)
    async with topic.subscribe(after=None) as subscription:
        assert subscription.next_nowait() is None
        publish(hub, topic, 1)
        events = await read(subscription, 1)
    assert [event.id for event in events] == [4]


async def test_resume_after_an_id_has_no_duplicates_and_no_gaps() -> None:
    hub, topic = EventHub(), Topic(100)
    ids = publish(hub, topic, 10)
    async with topic.subscribe(after=ids[3]) as subscription:
        resumed = await read(subscription, 6)
        publish(hub, topic, 2)
        resumed += await read(subscription, 2)
    assert [event.id for event in resumed] == list(range(ids[4], ids[-1] + 3))
    assert subscription.last_id == 12


async def test_a_waiting_reader_is_woken_by_a_publish() -> None:
    hub, topic = EventHub(), Topic(100)
    received: list[Event] = []
    async with topic.subscribe(after=None) as subscription:

        async def reader() -> None:
            received.append(await anext(subscription))

        with anyio.fail_after(TIMEOUT):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(reader)
                await anyio.lowlevel.checkpoint()  # let the reader start waiting
                publish(hub, topic, 1)
    assert [event.id for event in received] == [1]


async def test_slow_subscriber_lags_and_catches_up_without_loss() -> None:
    hub, topic = EventHub(), Topic(100)
    async with topic.subscribe(after=None, maxsize=2) as subscription:
        ids = publish(hub, topic, 50)
        assert subscription.lagged
        events = drain(subscription)
        assert not subscription.lagged
        live_ids = publish(hub, topic, 1)
        events += await read(subscription, 1)
    assert [event.id for event in events] == ids + live_ids
    assert LOST not in [event.name for event in events]


async def test_slow_subscriber_never_queues_more_than_its_bound() -> None:
    hub, topic = EventHub(), Topic(1000)
    subscription = topic.subscribe(after=None, maxsize=3)
    publish(hub, topic, 500)
    # What it holds beyond the topic's own buffer is its queue, which stays bounded.
    assert len(subscription._queue) == 3
    first = drain(subscription)
    assert [event.id for event in first] == list(range(1, 501))
    subscription.close()


async def test_lost_event_when_the_buffer_evicted_unseen_events() -> None:
    hub, topic = EventHub(), Topic(5)
    async with topic.subscribe(after=None, maxsize=2) as subscription:
        publish(hub, topic, 20)
        events = drain(subscription)
    assert [event.name for event in events] == ["tick", "tick", LOST] + ["tick"] * 5
    assert [event.id for event in events] == [1, 2, 15, 16, 17, 18, 19, 20]
    assert events[2].json() == {"lastEventId": 2, "resumedAfter": 15}


async def test_the_lost_event_is_known_by_its_kind() -> None:
    hub, topic = EventHub(), Topic(5)
    async with topic.subscribe(after=None, maxsize=2) as subscription:
        publish(hub, topic, 20)
        events = drain(subscription)
    assert [event.lost for event in events] == [False, False, True] + [False] * 5
    assert isinstance(events[2], LostEvent)


async def test_an_event_named_lost_is_delivered_once_after_a_lag() -> None:
    # A property may be called "lost": its events are data, never the lost notice.
    hub, topic = EventHub(), Topic(100)
    async with topic.subscribe(after=None, maxsize=2) as subscription:
        ids = publish(hub, topic, 10, name=LOST)
        events: list[Event] = []
        # Bounded: a subscription that re-delivers would otherwise never run dry.
        while len(events) < 30 and (event := subscription.next_nowait()) is not None:
            events.append(event)
    assert [event.id for event in events] == ids
    assert [event.json()["n"] for event in events] == list(range(10))
    assert not any(event.lost for event in events)


async def test_resume_from_an_evicted_id_says_lost() -> None:
    hub, topic = EventHub(), Topic(5)
    publish(hub, topic, 20)
    async with topic.subscribe(after=3) as subscription:
        events = drain(subscription)
    assert events[0].name == LOST
    assert events[0].json() == {"lastEventId": 3, "resumedAfter": 15}
    assert [event.id for event in events[1:]] == [16, 17, 18, 19, 20]


async def test_resume_from_the_last_evicted_id_loses_nothing() -> None:
    hub, topic = EventHub(), Topic(5)
    publish(hub, topic, 20)
    async with topic.subscribe(after=15) as subscription:
        events = drain(subscription)
    assert [event.id for event in events] == [16, 17, 18, 19, 20]


async def test_filter_applies_to_live_and_replayed_events() -> None:
    hub, topic = EventHub(), Topic(100)
    publish(hub, topic, 2, name="a")
    publish(hub, topic, 2, name="b")
    async with topic.subscribe(after=0, accept=lambda event: event.name == "b") as subscription:
        replayed = drain(subscription)
        publish(hub, topic, 1, name="a")
        publish(hub, topic, 1, name="b")
        live = await read(subscription, 1)
    assert [event.id for event in replayed] == [3, 4]
    assert [event.id for event in live] == [6]


async def test_subscription_ends_after_a_terminal_event() -> None:
    hub, topic = EventHub(), Topic(100)
    subscription = topic.subscribe(after=0, end_on_terminal=True)
    publish(hub, topic, 2)
    hub.publish(Event.encode("status", {"done": True}, terminal=True), topic)
    publish(hub, topic, 1)
    events = await read_to_end(subscription)
    assert [event.id for event in events] == [1, 2, 3]
    assert events[-1].terminal
    assert topic.subscriber_count == 0


async def test_close_lets_readers_drain_then_end() -> None:
    hub, topic = EventHub(), Topic(100)
    live = topic.subscribe(after=None)
    lagging = topic.subscribe(after=None, maxsize=1)
    publish(hub, topic, 3)
    topic.close()
    assert topic.subscriber_count == 0
    assert [event.id for event in await read_to_end(live)] == [1, 2, 3]
    assert [event.id for event in await read_to_end(lagging)] == [1, 2, 3]


async def test_close_wakes_a_waiting_reader() -> None:
    topic = Topic(100)
    subscription = topic.subscribe(after=None)
    ended = anyio.Event()

    async def reader() -> None:
        assert await read_to_end(subscription) == []
        ended.set()

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(reader)
            await anyio.lowlevel.checkpoint()
            topic.close()
            await ended.wait()


async def test_subscribing_to_a_closed_topic_replays_then_ends() -> None:
    hub, topic = EventHub(), Topic(100)
    publish(hub, topic, 2)
    topic.close()
    assert [event.id for event in await read_to_end(topic.subscribe(after=0))] == [1, 2]
    assert await read_to_end(topic.subscribe(after=None)) == []
    assert topic.subscriber_count == 0


async def test_closing_a_subscription_ends_its_reader() -> None:
    hub, topic = EventHub(), Topic(100)
    subscription = topic.subscribe(after=None)
    publish(hub, topic, 1)
    subscription.close()
    assert await read_to_end(subscription) == []
    assert topic.subscriber_count == 0
    subscription.close()  # idempotent


async def test_a_closed_subscription_stops_its_waiting_reader() -> None:
    topic = Topic(100)
    subscription = topic.subscribe(after=None)
    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_to_end, subscription)
            await anyio.lowlevel.checkpoint()
            subscription.close()


@pytest.mark.parametrize("how", ["context", "exhausted", "topic_closed"])
async def test_subscribers_are_forgotten(how: str) -> None:
    hub, topic = EventHub(), Topic(100)
    subscriptions = [topic.subscribe(after=None) for _ in range(5)]
    assert topic.subscriber_count == 5
    if how == "context":
        for subscription in subscriptions:
            async with subscription:
                pass
    elif how == "exhausted":
        hub.publish(Event.encode("end", None, terminal=True), topic)
        topic.close()
        for subscription in subscriptions:
            await read_to_end(subscription)
    else:
        topic.close()
    assert topic.subscriber_count == 0
    publish(hub, topic, 1)
    assert all(subscription.next_nowait() is None for subscription in subscriptions)


def test_event_payload_is_encoded_once() -> None:
    event = Event.encode("tick", {"n": 1}, thing="t", affordance="a", terminal=True)
    assert event.data == b'{"n":1}'
    assert event.json() == {"n": 1}
    assert (event.id, event.thing, event.affordance, event.terminal) == (0, "t", "a", True)


async def test_ready_wakes_for_an_event_or_a_wake_and_says_when_the_subscription_ended() -> None:
    hub, topic = EventHub(), Topic(100)
    subscription = topic.subscribe(after=None)
    woken: list[bool] = []

    async def waiter() -> None:
        woken.append(await subscription.ready())

    with anyio.fail_after(TIMEOUT):
        # Woken without an event (a keep-alive's alarm): True, and nothing to read.
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(waiter)
            await anyio.lowlevel.checkpoint()
            subscription.wake()
        assert woken == [True]
        assert subscription.next_nowait() is None
        # An event ready: True at once.
        publish(hub, topic, 1)
        assert await subscription.ready()
        assert [event.id for event in drain(subscription)] == [1]
        # Closed while waiting: woken; then False, the subscription has ended.
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(waiter)
            await anyio.lowlevel.checkpoint()
            topic.close()
        assert woken == [True, True]
        assert subscription.next_nowait() is None
        assert not await subscription.ready()
