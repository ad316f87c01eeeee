"""Server-Sent Events end to end: a real hypercorn, streams read as EventSource reads them.

Every stream here is parsed by ``eventsource.EventStreamParser`` (the WHATWG
algorithm), except where a test needs a client that misbehaves on purpose (one
that stops reading, or that hangs up the moment it has asked): those speak raw
HTTP/1.1 over a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx2
import hypercorn.config
import pytest
from conftest import ServeThings
from eventsource import EventStreamParser, SSEEvent, read_events
from inprocess import in_process
from things import Signal

import labthings_async as lt
from labthings_async.events import Event, EventHub, Topic
from labthings_async.http.sse import MAX_PACE, WRITE_SHARE, event_frames, pace_for
from labthings_async.server import ThingServer

TIMEOUT = 10.0
"""Seconds any single wait may take before the test fails."""

PROBLEM_JSON = "application/problem+json"


# -- Things ------------------------------------------------------------------------


class Gate:
    """Two signals between a test and an action: the action has got here; go on."""

    def __init__(self) -> None:
        self.reached = Signal()
        self.release = Signal()

    def pass_through(self) -> None:
        """Called by a threaded action: say so, then wait for the test."""
        self.reached.set()
        self.release.wait_in_thread(TIMEOUT)


class Worker(lt.Thing):
    """Actions whose every step a test can see and hold."""

    def __init__(self, gate: Gate | None = None) -> None:
        self.gate = gate or Gate()

    @lt.action
    def work(self, before: int = 1, after: int = 1) -> str:
        """Log ``before`` records, report half-way, wait at the gate, log ``after`` more."""
        for index in range(before):
            self.logger.info("before %d", index)
        lt.report_progress(50, "half-way")
        self.gate.pass_through()
        for index in range(after):
            self.logger.info("after %d", index)
        return "done"

    @lt.action
    def fail(self) -> None:
        """Log, then fail."""
        self.logger.warning("the lamp flickers")
        raise RuntimeError("the lamp is broken")

    @lt.action
    def linger(self) -> None:
        """Run until cancelled (cooperatively, in a thread)."""
        self.gate.reached.set()
        lt.cancellable_sleep(60)

    @lt.action
    async def linger_async(self) -> None:
        """Run until cancelled (for real, on the loop)."""
        await anyio.sleep(60)

    @lt.action
    async def noop_async(self) -> None:
        """Do nothing, on the loop."""

    @lt.action
    def noop_threaded(self) -> None:
        """Do nothing, in a thread."""


class Stage(lt.Thing):
    """Observable and unobservable properties."""

    position: int = lt.property(default=0)
    label: str = lt.property(default="")
    frame: str = lt.property(default="")
    secret: int = lt.property(default=0, observable=False)

    @lt.property
    def temperature(self) -> float:
        """A functional property: not observable."""
        return 21.5

    @lt.action
    def move(self, to: int) -> int:
        """Change ``position`` from inside an action."""
        self.position = to
        return to

    @lt.action
    def film(self, count: int, size: int) -> int:
        """Set ``frame`` ``count`` times to a ``size``-character value."""
        for index in range(count):
            self.frame = f"{index:06d}" + "x" * size
        return count


# -- helpers -------------------------------------------------------------------------


class EventStream:
    """An open event stream, parsed exactly as a browser's EventSource would parse it."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.parser = EventStreamParser()
        self._chunks = response.aiter_bytes()
        self._events: deque[SSEEvent] = deque()
        self.ended = False

    async def _feed(self) -> bool:
        """Read one more chunk; False once the server has ended the body."""
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self.ended = True
            return False
        self._events.extend(self.parser.feed(chunk))
        return True

    async def next_event(self) -> SSEEvent | None:
        """The next event, or None when the stream has ended."""
        with anyio.fail_after(TIMEOUT):
            while not self._events:
                if not await self._feed():
                    return None
        return self._events.popleft()

    async def take(self, count: int) -> list[SSEEvent]:
        """Exactly ``count`` more events (fails if the stream ends first)."""
        events: list[SSEEvent] = []
        for _ in range(count):
            event = await self.next_event()
            assert event is not None, f"the stream ended after {events!r}"
            events.append(event)
        return events

    async def until(self, accept: Callable[[SSEEvent], bool]) -> list[SSEEvent]:
        """Events up to and including the first that ``accept`` accepts."""
        events: list[SSEEvent] = []
        while True:
            event = await self.next_event()
            assert event is not None, f"the stream ended after {events!r}"
            events.append(event)
            if accept(event):
                return events

    async def rest(self) -> list[SSEEvent]:
        """Every event until the server ends the stream."""
        events: list[SSEEvent] = []
        while (event := await self.next_event()) is not None:
            events.append(event)
        return events

    async def wait_for_comments(self, count: int) -> None:
        """Read until ``count`` comment lines have arrived."""
        with anyio.fail_after(TIMEOUT):
            while len(self.parser.comments) < count:
                assert await self._feed(), "the stream ended"


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx2.AsyncClient, url: str, headers: Mapping[str, str] | None = None
) -> AsyncIterator[EventStream]:
    """GET an event stream; once this yields, the server has subscribed it.

    The server subscribes before it sends the response headers, so an event
    published after this point reaches the stream.
    """
    request_headers = {"Accept": "text/event-stream", **(headers or {})}
    with anyio.fail_after(TIMEOUT):
        response = await client.send(
            client.build_request("GET", url, headers=request_headers, timeout=None),
            stream=True,
        )
    try:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
    finally:
        await response.aclose()


async def wait_until(
    condition: Callable[[], bool], what: str, describe: Callable[[], object] = lambda: ""
) -> None:
    """Poll the server's state until ``condition`` holds; fail after TIMEOUT."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {TIMEOUT} s for {what}: {describe()}")
        await asyncio.sleep(0.005)


def status_of(event: SSEEvent) -> str:
    """``status:<status>`` for a status event, else the event's type."""
    if event.type == "status":
        return f"status:{event.json()['status']}"
    return event.type


def ids_of(events: list[SSEEvent]) -> list[int]:
    """The event IDs, as numbers."""
    return [int(event.last_event_id) for event in events]


def link(invocation: Mapping[str, Any], rel: str) -> str:
    """The href of the invocation's link ``rel``."""
    hrefs = [item["href"] for item in invocation["links"] if item["rel"] == rel]
    assert len(hrefs) == 1, invocation["links"]
    href: str = hrefs[0]
    return href


def subscriptions_of(server: ThingServer) -> int:
    """Open subscriptions on the server's shared topics."""
    hub = server.manager.hub
    return hub.invocations.subscriber_count + hub.properties.subscriber_count


def no_open_streams(server: ThingServer) -> Callable[[], bool]:
    """A condition: the server holds no stream and no shared subscription."""
    return no_open_streams_but(server, 0)


def no_open_streams_but(server: ThingServer, count: int) -> Callable[[], bool]:
    """A condition: the server holds ``count`` streams and shared subscriptions, no more."""
    return lambda: len(server.state.streams) == count and subscriptions_of(server) == count


async def invoke(client: httpx2.AsyncClient, url: str, body: Any = None) -> dict[str, Any]:
    """POST an invocation; returns its JSON."""
    response = await client.post(url, json=body or {})
    assert response.status_code == 201, response.text
    invocation: dict[str, Any] = response.json()
    return invocation


async def invoke_and_wait(client: httpx2.AsyncClient, url: str, body: Any = None) -> dict[str, Any]:
    """POST an invocation and hold the reply until it has finished."""
    response = await client.post(url, json=body or {}, headers={"Prefer": "wait=5"})
    assert response.status_code == 201, response.text
    invocation: dict[str, Any] = response.json()
    assert invocation["status"] in {"completed", "error", "cancelled"}, invocation
    return invocation


class RawConnection:
    """HTTP/1.1 over a plain socket: for clients that misbehave on purpose."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def get(cls, url: str, path: str, method: str = "GET") -> RawConnection:
        """Connect and send one request for ``path``."""
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        # Connection: close, because hypercorn keeps the tasks of an idle
        # keep-alive connection (after a HEAD, say) until its keep-alive
        # timeout, even once the client has hung up.
        request = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        return cls(reader, writer)

    async def wait_for_greeting(self) -> None:
        """Read until the stream's opening comment (the subscription is live)."""
        with anyio.fail_after(TIMEOUT):
            await self.reader.readuntil(b": connected\n\n")

    async def read_to_end(self) -> bytes:
        """Everything until the server closes the connection."""
        with anyio.fail_after(TIMEOUT):
            return await self.reader.read()

    def close(self) -> None:
        """Hang up politely (FIN)."""
        self.writer.close()

    def abort(self) -> None:
        """Hang up rudely (RST)."""
        self.writer.transport.abort()


@contextlib.asynccontextmanager
async def stalled_client(url: str, path: str) -> AsyncIterator[socket.socket]:
    """A client that asks for ``path`` and then never reads a byte.

    Its receive window is as small as the kernel allows, so the server's
    writes back up quickly.
    """
    host, port = url.removeprefix("http://").split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(stalled, (host, int(port)))
        await loop.sock_sendall(stalled, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        yield stalled
    finally:
        stalled.close()


FILM = {"count": 120, "size": 128_000}
"""120 events of 128 kB: far more than the kernel's socket buffers (4 MB at
most here) and the transport's hold, so a client that does not read stops
the server's writes to it."""


@contextlib.asynccontextmanager
async def timed_server(
    server: ThingServer, *, graceful_timeout: float
) -> AsyncIterator[tuple[str, Callable[[], Awaitable[float]]]]:
    """Serve ``server``; yields its URL and a coroutine that stops it and times the stop."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = hypercorn.config.Config()
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = graceful_timeout
    stop = asyncio.Event()
    serving = asyncio.create_task(
        server.serve(f"fd://{listener.detach()}", shutdown_trigger=stop.wait, config=config)
    )
    loop = asyncio.get_running_loop()

    async def shut_down() -> float:
        started = loop.time()
        stop.set()
        with anyio.fail_after(TIMEOUT):
            await serving
        return loop.time() - started

    try:
        # hypercorn answers once the Things are set up and it is listening.
        ready = await RawConnection.get(url, "/things/")
        assert (await ready.read_to_end()).startswith(b"HTTP/1.1 200")
        ready.close()
        yield url, shut_down
    finally:
        stop.set()
        with anyio.fail_after(TIMEOUT):
            await asyncio.gather(serving, return_exceptions=True)


# -- one invocation's stream ---------------------------------------------------------


async def test_invocation_stream_replays_then_follows_live_then_closes(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate)})
    url = await serve_things(server)
    invocation = await invoke(client, f"{url}/worker/work", {"before": 2, "after": 2})
    await gate.reached.wait()

    async with open_stream(client, link(invocation, "events")) as stream:
        replayed = await stream.until(lambda event: event.type == "progress")
        gate.release.set()
        live = await stream.rest()

    assert [status_of(event) for event in replayed] == [
        "status:pending",
        "status:running",
        "log",
        "log",
        "progress",
    ]
    assert [event.json()["message"] for event in replayed[2:4]] == ["before 0", "before 1"]
    assert replayed[4].json() == {"percent": 50, "message": "half-way"}
    assert [status_of(event) for event in live] == ["log", "log", "status:completed"]
    assert [event.json()["message"] for event in live[:2]] == ["after 0", "after 1"]
    final = live[-1].json()
    assert final["output"] == "done"
    assert final["error"] is None
    assert final["id"] == invocation["id"]
    assert final["action"] == "/worker/work"
    assert final["timeRequested"] <= final["timeStarted"] <= final["timeCompleted"]
    ids = ids_of(replayed + live)
    assert ids == sorted(set(ids)), "event IDs must increase"
    assert stream.ended
    assert stream.parser.retry == 2000
    assert stream.parser.comments[0] == "connected"
    await wait_until(lambda: not server.state.streams, "the stream to be forgotten")
    assert server.manager.get_invocation(invocation["id"]).events.subscriber_count == 0


async def test_invocation_stream_ends_with_the_error_of_a_failed_action(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"worker": Worker()}))
    invocation = await invoke(client, f"{url}/worker/fail")

    events, _ = await read_events(client, link(invocation, "events"), timeout=TIMEOUT)

    assert [status_of(event) for event in events] == [
        "status:pending",
        "status:running",
        "log",
        "log",
        "status:error",
    ]
    assert events[2].json()["message"] == "the lamp flickers"
    assert events[3].json()["exception_type"] == "RuntimeError"
    final = events[-1].json()
    assert final["output"] is None
    assert final["error"]["title"] == "RuntimeError"
    assert final["error"]["detail"] == "the lamp is broken"


async def test_invocation_stream_ends_with_cancellation(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    url = await serve_things(ThingServer({"worker": Worker(gate)}))
    invocation = await invoke(client, f"{url}/worker/linger")
    await gate.reached.wait()

    async with open_stream(client, link(invocation, "events")) as stream:
        await stream.until(lambda event: status_of(event) == "status:running")
        response = await client.delete(link(invocation, "self"))
        assert response.status_code == 200, response.text
        rest = await stream.rest()

    assert [status_of(event) for event in rest] == ["status:cancelled"]
    assert rest[0].json()["error"]["title"] == "InvocationCancelledError"


@contextlib.asynccontextmanager
async def invoke_streaming(
    client: httpx2.AsyncClient, url: str, body: Any = None, accept: str = "text/event-stream"
) -> AsyncIterator[tuple[httpx2.Response, EventStream]]:
    """POST an invocation asking for its event stream as the reply."""
    request = client.build_request(
        "POST", url, json=body or {}, headers={"Accept": accept}, timeout=None
    )
    with anyio.fail_after(TIMEOUT):
        response = await client.send(request, stream=True)
    try:
        assert response.status_code == 201, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield response, EventStream(response)
    finally:
        await response.aclose()


async def test_a_post_that_accepts_an_event_stream_is_answered_with_the_invocations_stream(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate)})
    url = await serve_things(server)
    async with invoke_streaming(client, f"{url}/worker/work", {"before": 1}) as (response, stream):
        first = await stream.next_event()
        replayed = await stream.until(lambda event: event.type == "progress")
        gate.release.set()
        live = await stream.rest()

    assert first is not None and first.type == "invocation"
    assert first.last_event_id == "", "a reconnection resumes from the events, not from it"
    invocation = first.json()
    assert response.headers["location"] == invocation["href"] == link(invocation, "self")
    assert invocation["status"] == "pending"
    assert invocation["input"] == {"before": 1, "after": 1}
    assert [status_of(event) for event in replayed + live] == [
        "status:pending",
        "status:running",
        "log",
        "progress",
        "log",
        "status:completed",
    ]
    final = live[-1].json()
    assert (final["id"], final["output"]) == (invocation["id"], "done")
    ids = ids_of(replayed + live)
    assert ids == sorted(set(ids))
    assert stream.ended
    assert stream.parser.comments[0] == "connected"
    await wait_until(no_open_streams(server), "the stream to be forgotten")


async def test_the_stream_answering_a_post_ends_with_the_error_or_the_cancellation(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    url = await serve_things(ThingServer({"worker": Worker(gate)}))
    async with invoke_streaming(client, f"{url}/worker/fail") as (_, stream):
        failed = await stream.rest()
    async with invoke_streaming(client, f"{url}/worker/linger") as (response, stream):
        await stream.until(lambda event: status_of(event) == "status:running")
        await gate.reached.wait()
        cancel = await client.delete(response.headers["location"])
        assert cancel.status_code == 200, cancel.text
        cancelled = await stream.rest()

    assert [status_of(event) for event in failed] == [
        "invocation",
        "status:pending",
        "status:running",
        "log",
        "log",
        "status:error",
    ]
    assert failed[-1].json()["error"]["detail"] == "the lamp is broken"
    assert [status_of(event) for event in cancelled] == ["status:cancelled"]


async def test_a_dropped_answer_stream_resumes_on_the_events_link_missing_nothing(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    url = await serve_things(ThingServer({"worker": Worker(gate)}))
    async with invoke_streaming(client, f"{url}/worker/work") as (_, stream):
        invocation = (await stream.take(1))[0].json()
        before = await stream.until(lambda event: event.type == "progress")
    # The client has hung up; the action goes on, and so do its events.
    gate.release.set()
    headers = {"Last-Event-ID": before[-1].last_event_id}
    async with open_stream(client, link(invocation, "events"), headers) as stream:
        after = await stream.rest()

    assert [status_of(event) for event in before + after] == [
        "status:pending",
        "status:running",
        "log",
        "progress",
        "log",
        "status:completed",
    ]
    ids = ids_of(before + after)
    assert ids == sorted(set(ids)), "nothing seen twice"


@pytest.mark.parametrize(
    "accept",
    [
        "*/*",
        "application/json",
        "text/event-stream;q=0",
        "application/json, text/event-stream;q=0.5",
    ],
)
async def test_a_post_that_does_not_prefer_an_event_stream_gets_the_invocation_as_json(
    serve_things: ServeThings, client: httpx2.AsyncClient, accept: str
) -> None:
    url = await serve_things(ThingServer({"worker": Worker()}))
    response = await client.post(f"{url}/worker/noop_async", json={}, headers={"Accept": accept})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["location"] == response.json()["href"]


async def test_output_reply_wins_over_an_event_stream_accept(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage()}))
    response = await client.post(
        f"{url}/stage/move?reply=output", json={"to": 3}, headers={"Accept": "text/event-stream"}
    )
    assert (response.status_code, response.json()) == (200, 3)


async def test_with_every_stream_taken_a_post_asking_for_one_gets_json_and_its_invocation_runs(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()}, max_streams=0)
    url = await serve_things(server)
    response = await client.post(
        f"{url}/stage/move", json={"to": 7}, headers={"Accept": "text/event-stream"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    invocation = response.json()
    await wait_until(
        lambda: server.manager.get_invocation(invocation["id"]).finished, "the move to finish"
    )
    finished = await client.get(link(invocation, "self"))
    assert (finished.json()["status"], finished.json()["output"]) == ("completed", 7)
    assert not server.state.streams


async def test_late_subscriber_gets_the_whole_story_and_the_result(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    gate.release.set()
    url = await serve_things(ThingServer({"worker": Worker(gate)}))
    invocation = await invoke_and_wait(client, f"{url}/worker/work", {"before": 3, "after": 1})

    first, parser = await read_events(client, link(invocation, "events"), timeout=TIMEOUT)
    again, _ = await read_events(client, link(invocation, "events"), timeout=TIMEOUT)

    assert [status_of(event) for event in first] == [
        "status:pending",
        "status:running",
        "log",
        "log",
        "log",
        "progress",
        "log",
        "status:completed",
    ]
    assert first[-1].json()["output"] == "done"
    assert parser.last_event_id == first[-1].last_event_id
    assert again == first


# -- the firehose ----------------------------------------------------------------------


async def test_firehose_delivers_every_status_of_1000_invocations_to_50_subscribers(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"worker": Worker()})
    url = await serve_things(server)
    invocations = 1000
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(open_stream(client, f"{url}/action_invocations/events"))
            for _ in range(50)
        ]
        invoked = {
            str(server.manager.invoke_action("worker", action).id)
            for action in ("noop_async", "noop_threaded")
            for _ in range(invocations // 2)
        }

        async def watch(stream: EventStream) -> list[SSEEvent]:
            events: list[SSEEvent] = []
            finished = 0
            while finished < invocations:
                event = await stream.next_event()
                assert event is not None, "the stream ended early"
                events.append(event)
                if event.type == "status" and event.json()["status"] == "completed":
                    finished += 1
            return events

        seen = await asyncio.gather(*(watch(stream) for stream in streams))

    for events in seen:
        assert {event.type for event in events} == {"status"}, "no lost event is expected"
        ids = ids_of(events)
        assert ids == sorted(set(ids)), "no duplicates, in order"
        statuses: dict[str, list[str]] = {}
        for event in events:
            change = event.json()
            statuses.setdefault(change["id"], []).append(change["status"])
        assert statuses.keys() == invoked
        assert all(
            history == ["pending", "running", "completed"] for history in statuses.values()
        ), statuses
    await wait_until(no_open_streams(server), "the streams to close")


async def test_firehose_filters_by_thing_and_action(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"worker": Worker(), "stage": Stage()})
    url = await serve_things(server)
    base = f"{url}/action_invocations/events"
    async with (
        open_stream(client, f"{base}?thing=stage") as by_thing,
        open_stream(client, f"{base}?thing=worker&action=noop_async") as by_action,
    ):
        await invoke_and_wait(client, f"{url}/worker/noop_threaded")
        await invoke_and_wait(client, f"{url}/worker/noop_async")
        await invoke_and_wait(client, f"{url}/stage/move", {"to": 3})
        stage_events = await by_thing.take(3)
        noop_events = await by_action.take(3)

    assert {event.json()["action"] for event in stage_events} == {"/stage/move"}
    assert {event.json()["action"] for event in noop_events} == {"/worker/noop_async"}
    assert [event.json()["status"] for event in noop_events] == [
        "pending",
        "running",
        "completed",
    ]


# -- resuming ------------------------------------------------------------------------


async def test_resume_with_last_event_id_after_a_forced_disconnect_misses_nothing(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate)})
    url = await serve_things(server)
    invocation = await invoke(client, f"{url}/worker/work", {"before": 4, "after": 6})
    events_url = link(invocation, "events")
    await gate.reached.wait()

    async with open_stream(client, events_url) as stream:
        before = await stream.take(4)
    # The client saw these four (the parser may have read further ahead).
    resume_from = before[-1].last_event_id
    # The connection is gone: the server lets go, and the action carries on.
    await wait_until(lambda: not server.state.streams, "the server to drop the stream")
    gate.release.set()
    await server.manager.get_invocation(invocation["id"]).wait()
    async with open_stream(client, events_url, {"Last-Event-ID": resume_from}) as stream:
        after = await stream.rest()
    whole, _ = await read_events(client, events_url, timeout=TIMEOUT)

    assert [status_of(event) for event in before] == [
        "status:pending",
        "status:running",
        "log",
        "log",
    ]
    assert before + after == whole
    assert status_of(whole[-1]) == "status:completed"


async def test_firehose_resumes_from_last_event_id_in_the_query(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"worker": Worker()})
    url = await serve_things(server)
    firehose = f"{url}/action_invocations/events"
    async with open_stream(client, firehose) as stream:
        for _ in range(2):
            await invoke_and_wait(client, f"{url}/worker/noop_async")
        before = await stream.take(4)
    resume_from = before[-1].last_event_id
    await wait_until(no_open_streams(server), "the server to drop the stream")
    for _ in range(3):
        await invoke_and_wait(client, f"{url}/worker/noop_threaded")

    async with open_stream(client, f"{firehose}?lastEventId={resume_from}") as stream:
        after = await stream.take(11)
        latest = await invoke(client, f"{url}/worker/noop_async")
        (next_event,) = await stream.take(1)
    replayed, _ = await read_events(
        client, firehose, headers={"Last-Event-ID": "0"}, limit=15, timeout=TIMEOUT
    )

    assert before + after == replayed
    assert next_event.json()["id"] == latest["id"], "nothing is delivered twice"
    assert next_event.json()["status"] == "pending"


async def test_resume_point_gone_from_the_replay_buffer_is_reported_as_lost(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate)}, history_len=4)
    url = await serve_things(server)
    invocation = await invoke(client, f"{url}/worker/work", {"before": 0, "after": 10})
    events_url = link(invocation, "events")
    await gate.reached.wait()
    async with open_stream(client, events_url) as stream:
        seen = await stream.take(2)
    resume_from = int(seen[-1].last_event_id)
    gate.release.set()
    await server.manager.get_invocation(invocation["id"]).wait()

    async with open_stream(client, events_url, {"Last-Event-ID": str(resume_from)}) as stream:
        resumed = await stream.rest()
    from_scratch, _ = await read_events(client, events_url, timeout=TIMEOUT)

    lost, *kept = resumed
    assert lost.type == "lost"
    assert lost.json() == {"lastEventId": resume_from, "resumedAfter": int(lost.last_event_id)}
    assert [status_of(event) for event in kept] == ["log", "log", "log", "status:completed"]
    assert [event.json()["message"] for event in kept[:3]] == ["after 7", "after 8", "after 9"]
    assert resume_from < int(lost.last_event_id) < ids_of(kept)[0]
    assert from_scratch[0].type == "lost"
    assert from_scratch[0].json()["lastEventId"] == 0
    assert from_scratch[1:] == kept


async def test_firehose_resume_point_gone_from_the_buffer_is_reported_as_lost(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"worker": Worker()}, event_buffer=6)
    url = await serve_things(server)
    firehose = f"{url}/action_invocations/events"
    async with open_stream(client, firehose) as stream:
        await invoke_and_wait(client, f"{url}/worker/noop_async")
        seen = await stream.take(3)
    resume_from = seen[-1].last_event_id
    newest = [(await invoke_and_wait(client, f"{url}/worker/noop_async"))["id"] for _ in range(4)]

    async with open_stream(client, firehose, {"Last-Event-ID": resume_from}) as stream:
        lost, *kept = await stream.take(7)

    assert lost.type == "lost"
    assert lost.json()["lastEventId"] == int(resume_from)
    assert [event.json()["id"] for event in kept] == [newest[2]] * 3 + [newest[3]] * 3
    assert ids_of(kept) == sorted(ids_of(kept))


# -- slow and vanishing clients ------------------------------------------------------


async def test_stalled_subscriber_holds_up_nothing_and_stays_bounded(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()}, subscriber_queue=4, event_buffer=1000)
    url = await serve_things(server)
    count = FILM["count"]
    async with stalled_client(url, "/stage/frame/events"):
        await wait_until(lambda: len(server.state.streams) == 1, "the stalled stream")
        (stalled,) = server.state.streams
        assert isinstance(stalled, lt.Subscription)
        async with (
            open_stream(client, f"{url}/stage/frame/values") as values,
            open_stream(client, f"{url}/stage/events") as everything,
        ):
            filmed = await invoke_and_wait(client, f"{url}/stage/film", FILM)
            moved = await invoke_and_wait(client, f"{url}/stage/move", {"to": 3})
            value_events = await values.take(count)
            all_events = await everything.take(count + 1)

        assert filmed["output"] == count
        assert moved["output"] == 3
        expected = [f"{index:06d}" for index in range(count)]
        assert [event.json()[:6] for event in value_events] == expected
        assert {event.type for event in value_events} == {"message"}
        assert [event.json()[:6] for event in all_events[:count]] == expected
        assert (all_events[-1].type, all_events[-1].json()) == ("position", 3)
        assert stalled.lagged, "the stalled subscription should have fallen behind"
        assert len(stalled._queue) <= stalled.maxsize == 4
    await wait_until(no_open_streams(server), "the stalled stream to be freed")


async def test_a_stalled_client_is_cut_off_and_lets_go_of_what_it_held(
    serve_things: ServeThings, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server = ThingServer({"stage": Stage()}, subscriber_queue=4, stream_stall_timeout=0.5)
    url = await serve_things(server)
    with caplog.at_level(logging.INFO, logger="labthings_async.server"):
        async with stalled_client(url, "/stage/frame/events"):
            await wait_until(lambda: len(server.state.streams) == 1, "the stalled stream")
            async with open_stream(client, f"{url}/stage/position/events") as reader:
                await invoke_and_wait(client, f"{url}/stage/film", FILM)
                await wait_until(no_open_streams_but(server, 1), "the stalled stream to be cut off")
                # The client that reads is served on.
                await invoke_and_wait(client, f"{url}/stage/move", {"to": 5})
                (moved,) = await reader.take(1)
    assert moved.json() == 5
    assert any(
        record.getMessage().startswith("cut off the event stream of 127.0.0.1:")
        and record.getMessage().endswith(": it took nothing for 0.5 s")
        for record in caplog.records
    ), caplog.text


async def test_a_stalled_client_that_hangs_up_has_nothing_more_rendered(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()}, subscriber_queue=4)
    url = await serve_things(server)
    buffer = server.manager.hub.properties

    def rendered() -> int:
        return sum(event.cache is not None for event in buffer.events_after(0))

    async with stalled_client(url, "/stage/frame/events"):
        await wait_until(lambda: len(server.state.streams) == 1, "the stalled stream")
        (stalled,) = server.state.streams
        assert isinstance(stalled, lt.Subscription)
        await invoke_and_wait(client, f"{url}/stage/film", FILM)
        await wait_until(lambda: stalled.lagged, "the server's writes to back up")
        before = rendered()
    await wait_until(no_open_streams(server), "the stream to end")
    # What the client never took (most of the film) is not rendered when it
    # hangs up: one chunk at most (a write holds about 256 KiB: three frames).
    assert len(buffer) == FILM["count"]
    assert before < FILM["count"]
    assert rendered() - before <= 3, f"{rendered() - before} more frames of 128 kB rendered"


async def test_opening_and_dropping_10000_streams_leaks_nothing(
    serve_things: ServeThings,
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate), "stage": Stage()})
    url = await serve_things(server)
    running = server.manager.invoke_action("worker", "linger")
    await gate.reached.wait()
    paths = [
        "/action_invocations/events",
        "/action_invocations/events?thing=worker&action=linger",
        f"/action_invocations/{running.id}/events",
        "/stage/events",
        "/stage/position/events",
        "/stage/position/values",
    ]

    async def open_and_drop(index: int) -> None:
        head = index % 10 == 9
        connection = await RawConnection.get(
            url, paths[index % len(paths)], "HEAD" if head else "GET"
        )
        if index % 4 == 0:
            connection.abort()  # Gone the moment the request is out.
            return
        if head:
            with anyio.fail_after(TIMEOUT):
                await connection.reader.readuntil(b"\r\n\r\n")
        else:
            await connection.wait_for_greeting()
        if index % 2:
            connection.close()
        else:
            connection.abort()

    def leftovers() -> dict[str, object]:
        return {
            "streams": len(server.state.streams),
            "shared subscriptions": subscriptions_of(server),
            "invocation subscriptions": running.events.subscriber_count,
            "new tasks": asyncio.all_tasks() - baseline,
        }

    # One stream first, so hypercorn is surely serving: tasks it starts once
    # are part of the baseline, not leaks.
    await open_and_drop(1)
    baseline = asyncio.all_tasks()
    # Batches no bigger than the listening socket's backlog: beyond it the
    # kernel drops SYNs, and each dropped one costs a second's retransmit.
    batch = 50
    for start in range(0, 10_000, batch):
        await asyncio.gather(*(open_and_drop(index) for index in range(start, start + batch)))

    settled = {
        "streams": 0,
        "shared subscriptions": 0,
        "invocation subscriptions": 0,
        "new tasks": set(),
    }
    await wait_until(lambda: leftovers() == settled, "every stream to be freed", leftovers)
    running.cancel()


async def test_shutdown_with_100_open_streams_and_running_actions_is_prompt() -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate), "stage": Stage()}, shutdown_grace=10)
    # hypercorn waits up to its graceful timeout for open connections: make
    # waiting it out fail the test.
    async with timed_server(server, graceful_timeout=10) as (url, shut_down):
        running = [
            server.manager.invoke_action("worker", action)
            for action in ("linger", "linger_async")
            for _ in range(5)
        ]
        await wait_until(
            lambda: all(item.status is lt.InvocationStatus.RUNNING for item in running),
            "the actions to run",
        )
        paths = [
            *["/action_invocations/events"] * 30,
            *["/action_invocations/events?thing=stage"] * 10,
            *[f"/action_invocations/{item.id}/events" for item in running] * 3,
            *["/stage/events", "/stage/position/events", "/stage/position/values"] * 10,
        ]
        assert len(paths) == 100
        connections = await asyncio.gather(*(RawConnection.get(url, path) for path in paths))
        try:
            await asyncio.gather(*(connection.wait_for_greeting() for connection in connections))
            assert len(server.state.streams) == 100

            elapsed = await shut_down()
            bodies = await asyncio.gather(*(item.read_to_end() for item in connections))
        finally:
            for connection in connections:
                connection.close()

    assert elapsed < 3.0, f"shutdown took {elapsed:.2f} s"
    # Each stream was ended by the server (the chunked body's last chunk), not cut off.
    assert all(body.endswith(b"\r\n0\r\n\r\n") for body in bodies), bodies
    assert {item.status for item in running} == {lt.InvocationStatus.CANCELLED}
    assert not server.state.streams


async def test_shutdown_with_a_stalled_subscriber_ends_by_the_graceful_timeout() -> None:
    server = ThingServer({"stage": Stage()}, subscriber_queue=4)
    async with (
        timed_server(server, graceful_timeout=1) as (url, shut_down),
        stalled_client(url, "/stage/frame/events"),
    ):
        await wait_until(lambda: len(server.state.streams) == 1, "the stalled stream")
        (stalled,) = server.state.streams
        assert isinstance(stalled, lt.Subscription)
        film = server.manager.invoke_action("stage", "film", FILM)
        await film.wait()
        await wait_until(lambda: stalled.lagged, "the server's writes to back up")
        # hypercorn cannot close a connection whose client takes no bytes
        # before its graceful timeout; without the stream's help it would
        # wait for good.
        elapsed = await shut_down()

    assert elapsed < 1 + 2.0, f"shutdown took {elapsed:.2f} s"


async def test_the_lost_notice_keeps_its_name_on_a_stream_of_values(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()}, event_buffer=8)
    url = await serve_things(server)
    for position in range(1, 21):
        await client.put(f"{url}/stage/position", json=position)
    events, _ = await read_events(
        client, f"{url}/stage/position/values", headers={"Last-Event-ID": "1"}, limit=2
    )
    lost, first_value = events
    # node-wot reads only unnamed events: a named notice is never taken for a value.
    assert lost.type == "lost"
    assert lost.json()["lastEventId"] == 1
    assert first_value.type == "message"
    assert first_value.json() > 1


# -- properties ----------------------------------------------------------------------


async def test_property_streams_report_a_put(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    server = ThingServer({"stage": Stage()})
    url = await serve_things(server)
    async with (
        open_stream(client, f"{url}/stage/position/events") as named,
        open_stream(client, f"{url}/stage/position/values") as unnamed,
        open_stream(client, f"{url}/stage/events") as everything,
    ):
        for path, value in [("position", 7), ("label", "left"), ("position", 8)]:
            response = await client.put(f"{url}/stage/{path}", json=value)
            assert response.status_code == 204, response.text
        named_events = await named.take(2)
        unnamed_events = await unnamed.take(2)
        all_events = await everything.take(3)

    assert [(event.type, event.json()) for event in named_events] == [
        ("position", 7),
        ("position", 8),
    ]
    assert [(event.type, event.json()) for event in unnamed_events] == [
        ("message", 7),
        ("message", 8),
    ]
    assert [(event.type, event.json()) for event in all_events] == [
        ("position", 7),
        ("label", "left"),
        ("position", 8),
    ]
    # One change, one ID, whichever stream carries it.
    assert ids_of(named_events) == ids_of(unnamed_events) == ids_of(all_events[::2])
    await wait_until(no_open_streams(server), "the streams to close")


async def test_property_streams_report_a_change_made_inside_an_action(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage()}))
    async with (
        open_stream(client, f"{url}/stage/position/events") as named,
        open_stream(client, f"{url}/stage/position/values") as unnamed,
        open_stream(client, f"{url}/stage/events") as everything,
    ):
        await invoke_and_wait(client, f"{url}/stage/move", {"to": 42})
        (named_event,) = await named.take(1)
        (unnamed_event,) = await unnamed.take(1)
        (any_event,) = await everything.take(1)

    assert (named_event.type, named_event.data) == ("position", "42")
    assert (unnamed_event.type, unnamed_event.data) == ("message", "42")
    assert (any_event.type, any_event.data) == ("position", "42")


# -- the HTTP side of a stream ---------------------------------------------------------


def stream_paths(invocation_id: str) -> list[str]:
    """One URL of every kind of stream."""
    return [
        "/action_invocations/events",
        f"/action_invocations/{invocation_id}/events",
        "/stage/events",
        "/stage/position/events",
        "/stage/position/values",
    ]


async def test_head_on_a_stream_answers_headers_without_streaming(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate), "stage": Stage()})
    url = await serve_things(server)
    running = server.manager.invoke_action("worker", "linger")
    await gate.reached.wait()

    for path in stream_paths(str(running.id)):
        with anyio.fail_after(TIMEOUT):
            response = await client.head(f"{url}{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/event-stream"), path
        assert response.headers["cache-control"] == "no-cache"
        assert response.content == b""

    # Nothing was left subscribed.
    await wait_until(
        lambda: no_open_streams(server)() and running.events.subscriber_count == 0,
        "HEAD requests to leave no subscription behind",
    )
    running.cancel()


async def test_idle_stream_sends_keepalive_comments(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage()}, keepalive=0.05))
    async with open_stream(client, f"{url}/action_invocations/events") as stream:
        await stream.wait_for_comments(4)
        assert stream.parser.comments[:4] == ["connected", "keep-alive", "keep-alive", "keep-alive"]
        assert stream.parser.last_event_id == ""


async def test_streams_disable_caching_and_proxy_buffering(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    gate = Gate()
    server = ThingServer({"worker": Worker(gate), "stage": Stage()})
    url = await serve_things(server)
    running = server.manager.invoke_action("worker", "linger")
    await gate.reached.wait()

    for path in stream_paths(str(running.id)):
        async with open_stream(client, f"{url}{path}") as stream:
            headers = stream.response.headers
            assert headers["content-type"] == "text/event-stream; charset=utf-8", path
            assert headers["cache-control"] == "no-cache", path
            assert headers["x-accel-buffering"] == "no", path
    running.cancel()


async def test_streams_allow_the_configured_cors_origins(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    page = "http://lab.example"
    url = await serve_things(ThingServer({"stage": Stage()}, cors_origins=[page]))
    firehose = f"{url}/action_invocations/events"

    async with open_stream(client, firehose, {"Origin": page}) as allowed:
        assert allowed.response.headers["access-control-allow-origin"] == page
    async with open_stream(client, firehose, {"Origin": "http://elsewhere.example"}) as other:
        assert "access-control-allow-origin" not in other.response.headers
    # A reconnecting EventSource sends Last-Event-ID, which needs a preflight.
    preflight = await client.options(
        firehose,
        headers={
            "Origin": page,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == page
    assert "last-event-id" in preflight.headers["access-control-allow-headers"].lower()


async def test_streams_send_no_cors_headers_unless_configured(
    serve_things: ServeThings, client: httpx2.AsyncClient
) -> None:
    url = await serve_things(ThingServer({"stage": Stage()}))
    async with open_stream(
        client, f"{url}/action_invocations/events", {"Origin": "http://lab.example"}
    ) as stream:
        assert "access-control-allow-origin" not in stream.response.headers


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "0x10", "\u00b2", "9" * 5000])
def test_malformed_last_event_id_is_a_422_problem(value: str) -> None:
    server = ThingServer({"stage": Stage()})
    with in_process(server.app) as http:
        firehose = "/action_invocations/events"
        in_header = http.get(firehose, headers={b"Last-Event-ID": value.encode("latin-1")})
        in_query = http.get(firehose, params={"lastEventId": value})

        for response, path in (
            (in_header, "$.headers.Last-Event-ID"),
            (in_query, "$.query.lastEventId"),
        ):
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM_JSON
            problem = response.json()
            assert problem["status"] == 422
            assert problem["errors"][0]["path"] == path
        assert no_open_streams(server)()


@pytest.mark.parametrize(
    "path",
    [
        "/action_invocations/1b4e28ba-2fa1-11d2-883f-0016d3cca427/events",
        "/action_invocations/not-an-id/events",
    ],
)
def test_unknown_invocation_stream_is_a_404_problem(path: str) -> None:
    with in_process(ThingServer({"stage": Stage()}).app) as http:
        response = http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["title"] == "Invocation not found"


@pytest.mark.parametrize(
    "path",
    [
        "/stage/secret/events",
        "/stage/secret/values",
        "/stage/temperature/events",
        "/stage/nothing/events",
        "/stage/move/events",
        "/nobody/events",
        "/nobody/position/values",
    ],
)
def test_stream_of_no_observable_property_is_a_404_problem(path: str) -> None:
    server = ThingServer({"stage": Stage()})
    with in_process(server.app) as http:
        response = http.get(path)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["status"] == 404
        assert no_open_streams(server)()


def test_a_busy_stream_pauses_in_proportion_to_the_streams_open_and_only_when_it_matters() -> None:
    # A pause under the loop's shortest sleep (1 ms) would last 1 ms anyway:
    # a stream followed alone, or with a few others, goes on at once.
    below_a_millisecond = math.ceil(0.001 / WRITE_SHARE) - 1
    assert pace_for(1) == pace_for(below_a_millisecond) == 0.0
    assert pace_for(below_a_millisecond + 1) == pytest.approx(
        (below_a_millisecond + 1) * WRITE_SHARE
    )
    assert pace_for(100) == pytest.approx(100 * WRITE_SHARE)
    assert pace_for(100_000) == MAX_PACE


async def test_a_keep_alive_comes_only_after_a_quiet_spell() -> None:
    """While events come more often than the keep-alive, none is sent; after them, one is."""
    hub, topic = EventHub(), Topic(100)
    frames = event_frames(topic.subscribe(after=None), keepalive=0.2)
    assert isinstance(frames, AsyncGenerator)
    chunks: list[bytes] = [await anext(frames)]

    async def read() -> None:
        async for chunk in frames:
            chunks.append(chunk)
            if chunk == b": keep-alive\n\n":
                return

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            for n in range(12):  # 0.6 s of events, 0.05 s apart: three keep-alive periods.
                hub.publish(Event.encode("tick", n), topic)
                await anyio.sleep(0.05)
    await frames.aclose()
    events = b"".join(chunks[1:-1])
    assert chunks[-1] == b": keep-alive\n\n"
    assert events.count(b"event: tick") == 12
    assert b"keep-alive" not in events
