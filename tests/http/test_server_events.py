"""``GET /events`` end to end: one stream for every invocation and every property.

A real hypercorn; each stream parsed as a browser's EventSource parses it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx2
from conftest import ServeThings
from eventsource import SSEEvent, aiter_events, read_events

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


def completed(event: SSEEvent) -> bool:
    return event.type == "status" and json.loads(event.data)["status"] == "completed"


@asynccontextmanager
async def open_events(
    client: httpx2.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncIterator[SSEEvent]]:
    """Open a stream; once this returns, the server has subscribed it (the headers are in)."""
    request_headers = {"Accept": "text/event-stream", **(headers or {})}
    async with client.stream("GET", url, headers=request_headers, timeout=None) as response:
        assert response.status_code == 200, await response.aread()
        async with contextlib.aclosing(aiter_events(response)) as events:
            yield events


async def read_until(
    events: AsyncIterator[SSEEvent], until: Callable[[SSEEvent], bool]
) -> list[SSEEvent]:
    read: list[SSEEvent] = []
    with anyio.fail_after(TIMEOUT):
        async for event in events:
            read.append(event)
            if until(event):
                return read
    raise AssertionError(f"the stream ended before the awaited event: {read}")


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
    url = await serve_things(ThingServer({"stage": Stage(), "lamp": Lamp()}))
    async with open_events(client, f"{url}/events") as stream:
        assert (await client.put(f"{url}/lamp/brightness", json=7)).status_code == 204
        invoked = (await client.post(f"{url}/stage/move", json={"to": 3})).json()
        events = await read_until(stream, completed)

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
    url = await serve_things(ThingServer({"stage": Stage()}))
    async with open_events(client, f"{url}/events") as stream:
        assert (await client.put(f"{url}/stage/status", json="busy")).status_code == 204
        (event,) = await read_until(stream, lambda event: True)
    assert event.type == "property"
    assert json.loads(event.data) == {"thing": "stage", "name": "status", "value": "busy"}


async def test_resuming_with_last_event_id_misses_nothing_and_repeats_nothing(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage(), "lamp": Lamp()}))
    async with open_events(client, f"{url}/events") as stream:
        await client.post(f"{url}/stage/move", json={"to": 1})
        before = await read_until(stream, completed)

    # While no one listens: another Thing changes, another invocation runs.
    await client.put(f"{url}/lamp/brightness", json=9)
    await client.post(f"{url}/stage/move", json={"to": 2}, headers={"Prefer": "wait=10"})

    resume = {"Last-Event-ID": before[-1].last_event_id}
    async with open_events(client, f"{url}/events", resume) as stream:
        after = await read_until(stream, completed)
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
    url = await serve_things(ThingServer({"stage": Stage(), "lamp": Lamp()}))
    async with open_events(client, f"{url}/events?thing=stage") as stream:
        await client.put(f"{url}/lamp/brightness", json=4)
        await client.post(f"{url}/stage/move", json={"to": 5})
        events = await read_until(stream, completed)
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
