"""Tests for labthings_async.multiplex: several topics read as one ordered, resumable stream."""

import asyncio

import anyio
from things import TIMEOUT

import labthings_async as lt
from labthings_async.events import Event, EventHub, Topic
from labthings_async.multiplex import Multiplex, Source, open_server_events


def publish(hub: EventHub, topic: Topic, name: str, payload: object = None, **tags: str) -> int:
    event = Event.encode(name, payload, **tags)
    hub.publish(event, topic)
    return event.id


def drain(stream: Multiplex) -> list[Event]:
    events = []
    while (event := stream.next_nowait()) is not None:
        events.append(event)
    return events


async def read(stream: Multiplex, count: int) -> list[Event]:
    with anyio.fail_after(TIMEOUT):
        return [await anext(stream) for _ in range(count)]


def test_events_of_several_topics_come_in_publication_order() -> None:
    hub = EventHub()
    first, second = Topic(100), Topic(100)
    stream = Multiplex([Source(first), Source(second)], after=None, maxsize=100)
    ids = [publish(hub, topic, "tick") for topic in (first, second, second, first, second)]
    assert [event.id for event in drain(stream)] == ids
    stream.close()


def test_resuming_replays_every_topic_after_the_id_once() -> None:
    hub = EventHub()
    first, second = Topic(100), Topic(100)
    ids = [publish(hub, topic, "tick") for topic in (first, second, first, second, first)]
    stream = Multiplex([Source(first), Source(second)], after=ids[1], maxsize=100)
    assert [event.id for event in drain(stream)] == ids[2:]
    assert stream.last_id == ids[-1]


async def test_a_waiting_reader_wakes_for_any_topic() -> None:
    hub = EventHub()
    first, second = Topic(100), Topic(100)
    async with Multiplex([Source(first), Source(second)], after=None, maxsize=100) as stream:
        reader = asyncio.create_task(read(stream, 2))
        await asyncio.sleep(0)  # The reader is now waiting on both topics.
        second_id = publish(hub, second, "b")
        first_id = publish(hub, first, "a")
        assert [event.id for event in await reader] == [second_id, first_id]


async def test_the_stream_ends_when_the_hub_closes() -> None:
    hub = EventHub()
    async with open_server_events(hub, after=None, maxsize=100) as stream:
        ended = asyncio.create_task(anext(stream, None))
        await asyncio.sleep(0)
        hub.close()
        with anyio.fail_after(TIMEOUT):
            assert await ended is None


def test_a_slow_reader_is_bounded_and_told_what_it_lost() -> None:
    hub = EventHub()
    busy, quiet = Topic(20), Topic(20)
    stream = Multiplex([Source(busy), Source(quiet)], after=None, maxsize=5)
    quiet_id = publish(hub, quiet, "q")
    for _ in range(50):  # Far more than the queue and the buffer hold.
        publish(hub, busy, "b")
    events = drain(stream)
    assert events[0].name == "q"
    (where,) = [index for index, event in enumerate(events) if event.lost]
    lost = events[where]
    # The five events the queue held came first; the rest overflowed the buffer.
    assert [event.id for event in events[1:6]] == list(range(quiet_id + 1, quiet_id + 6))
    assert lost.json()["lastEventId"] == quiet_id + 5
    ids = [event.id for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # After the loss comes what the buffer still holds, up to the newest event.
    after_loss = [event.id for event in events[where + 1 :]]
    assert after_loss == [event.id for event in busy.events_after(lost.id)]
    assert after_loss[-1] == quiet_id + 50


def test_waiting_progress_is_coalesced_per_invocation() -> None:
    hub = EventHub()
    stream = open_server_events(hub, after=None, maxsize=100)
    for percent in (10, 20, 30):
        event = Event.encode(
            "progress", {"percent": percent}, thing="t", affordance="a", invocation="one"
        )
        hub.publish(event, hub.progress)
    other = Event.encode("progress", {"percent": 5}, thing="t", affordance="a", invocation="two")
    hub.publish(other, hub.progress)
    events = drain(stream)
    assert [event.json() for event in events] == [
        {"id": "one", "percent": 30},
        {"id": "two", "percent": 5},
    ]


def test_property_changes_name_their_thing_and_property() -> None:
    hub = EventHub()
    stream = open_server_events(hub, after=None, maxsize=100)
    # A property called "status" must not pass for an invocation's status change.
    event_id = publish(
        hub, hub.properties, "status", {"ok": True}, thing="lamp", affordance="status"
    )
    [event] = drain(stream)
    assert (event.id, event.name) == (event_id, "property")
    assert event.json() == {"thing": "lamp", "name": "status", "value": {"ok": True}}


def test_a_property_called_lost_is_a_property_change_not_a_loss() -> None:
    hub = EventHub()
    stream = open_server_events(hub, after=None, maxsize=100)
    publish(hub, hub.properties, "lost", 3, thing="lamp", affordance="lost")
    [event] = drain(stream)
    assert not event.lost
    assert event.name == "property"
    assert event.json() == {"thing": "lamp", "name": "lost", "value": 3}


async def test_a_server_stream_follows_invocations_progress_and_properties() -> None:
    class Stage(lt.Thing):
        position: int = lt.property(default=0)

        @lt.action
        def move(self, to: int) -> int:
            lt.report_progress(50, "half way")
            self.position = to
            return to

    async with lt.ActionManager({"stage": Stage()}) as manager:
        stream = open_server_events(manager.hub, after=None, maxsize=100)
        invocation = manager.invoke_action("stage", "move", {"to": 7})
        seen: list[tuple[str, object]] = []
        with anyio.fail_after(TIMEOUT):
            async for event in stream:
                data = event.json()
                if event.name == "progress":
                    assert data["id"] == invocation.id_text
                seen.append((event.name, data.get("status") or data.get("percent") or data))
                if event.name == "status" and data["status"] == "completed":
                    break
        stream.close()
    assert seen == [
        ("status", "pending"),
        ("status", "running"),
        ("progress", 50),
        ("property", {"thing": "stage", "name": "position", "value": 7}),
        ("status", "completed"),
    ]
