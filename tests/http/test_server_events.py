"""``GET /events`` end to end: one stream for every invocation and every property.

A real hypercorn; each stream parsed as a browser's EventSource parses it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import anyio
import httpx2
from conftest import ServeThings
from eventsource import SSEEvent, read_events

import labthings_async as lt
from labthings_async.server import ThingServer

TIMEOUT = 10.0


class Stage(lt.Thing):
    """Moves, reporting progress and publishing its position."""

    position: int = lt.property(default=0)
    status: str = lt.property(default="idle", description="Named like an event on purpose.")

    @lt.action
    async def move(self, to: int) -> int:
        """Report half way, then arrive."""
        lt.report_progress(50, "half way")
        self.position = to
        return to


class Lamp(lt.Thing):
    """A second Thing, to see the stream carries every Thing's events."""

    brightness: int = lt.property(default=0)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    with anyio.fail_after(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)


def completed(event: SSEEvent) -> bool:
    return event.type == "status" and json.loads(event.data)["status"] == "completed"


async def follow(
    client: httpx2.AsyncClient,
    server: ThingServer,
    url: str,
    until: Callable[[SSEEvent], bool],
    headers: dict[str, str] | None = None,
) -> asyncio.Task[tuple[list[SSEEvent], object]]:
    """Start reading a stream; return once the server has subscribed it."""
    opened = len(server.state.streams)
    task = asyncio.create_task(
        read_events(client, url, until=until, headers=headers, timeout=TIMEOUT)
    )
    # A replayed stream may have been read to its end already.
    await wait_until(lambda: len(server.state.streams) > opened or task.done(), "a stream")
    return task


def summary(event: SSEEvent) -> tuple[str, object]:
    data = json.loads(event.data)
    if event.type == "status":
        return ("status", data["status"])
    if event.type == "progress":
        return ("progress", (data["percent"], data["message"]))
    return (event.type, data)


async def test_one_stream_carries_status_progress_and_every_things_properties(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage(), "lamp": Lamp()})
    url = await serve_things(server)
    reading = await follow(client, server, f"{url}/events", completed)
    assert (await client.put(f"{url}/lamp/brightness", json=7)).status_code == 204
    invoked = (await client.post(f"{url}/stage/move", json={"to": 3})).json()
    events, _ = await reading

    assert [summary(event) for event in events] == [
        ("property", {"thing": "lamp", "name": "brightness", "value": 7}),
        ("status", "pending"),
        ("status", "running"),
        ("progress", (50, "half way")),
        ("property", {"thing": "stage", "name": "position", "value": 3}),
        ("status", "completed"),
    ]
    progress = json.loads(events[3].data)
    assert progress["id"] == invoked["id"], "progress names its invocation"
    assert json.loads(events[-1].data)["id"] == invoked["id"]
    ids = [int(event.last_event_id) for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_property_named_status_is_a_property_event(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()})
    url = await serve_things(server)
    reading = await follow(client, server, f"{url}/events", lambda event: True)
    assert (await client.put(f"{url}/stage/status", json="busy")).status_code == 204
    (event,), _ = await reading
    assert event.type == "property"
    assert json.loads(event.data) == {"thing": "stage", "name": "status", "value": "busy"}


async def test_resuming_with_last_event_id_misses_nothing_and_repeats_nothing(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage(), "lamp": Lamp()})
    url = await serve_things(server)
    reading = await follow(client, server, f"{url}/events", completed)
    await client.post(f"{url}/stage/move", json={"to": 1})
    before, _ = await reading
    await wait_until(lambda: not server.state.streams, "the server to drop the stream")

    # While no one listens: another Thing changes, another invocation runs.
    await client.put(f"{url}/lamp/brightness", json=9)
    await client.post(f"{url}/stage/move", json={"to": 2}, headers={"Prefer": "wait=10"})

    resumed = await follow(
        client, server, f"{url}/events", completed, {"Last-Event-ID": before[-1].last_event_id}
    )
    after, _ = await resumed
    everything, _ = await read_events(
        client,
        f"{url}/events",
        headers={"Last-Event-ID": "0"},
        limit=len(before) + len(after),
        timeout=TIMEOUT,
    )
    assert [summary(event) for event in after] == [
        ("property", {"thing": "lamp", "name": "brightness", "value": 9}),
        ("status", "pending"),
        ("status", "running"),
        ("progress", (50, "half way")),
        ("property", {"thing": "stage", "name": "position", "value": 2}),
        ("status", "completed"),
    ]
    assert [(e.last_event_id, e.type, e.data) for e in before + after] == [
        (e.last_event_id, e.type, e.data) for e in everything
    ]


async def test_thing_query_keeps_one_things_events(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage(), "lamp": Lamp()})
    url = await serve_things(server)
    reading = await follow(client, server, f"{url}/events?thing=stage", completed)
    await client.put(f"{url}/lamp/brightness", json=4)
    await client.post(f"{url}/stage/move", json={"to": 5})
    events, _ = await reading
    assert {json.loads(event.data)["thing"] for event in events if event.type == "property"} == {
        "stage"
    }
    assert all(event.type != "property" or "lamp" not in event.data for event in events)


async def test_unknown_thing_or_bad_last_event_id_is_a_problem(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage()}))
    unknown = await client.get(f"{url}/events?thing=nope")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "no Thing called 'nope'" in unknown.json()["detail"]
    malformed = await client.get(f"{url}/events", headers={"Last-Event-ID": "yesterday"})
    assert malformed.status_code == 422
    assert "Last-Event-ID" in malformed.json()["detail"]


async def test_a_thing_cannot_be_called_events_docs_or_static() -> None:
    for name in ("events", "docs", "static"):
        try:
            ThingServer({name: Lamp()})
        except ValueError as error:
            assert name in str(error)
        else:
            raise AssertionError(f"a Thing called {name!r} was accepted")
