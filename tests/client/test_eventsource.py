from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import httpx2
import hypercorn.asyncio
import hypercorn.config
import pytest
from eventsource import aiter_events, iter_events, read_events
from hypercorn.typing import ASGIFramework
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from labthings_async.client.eventsource import EventStreamParser, SSEEvent


def message(data: str, last_event_id: str = "") -> SSEEvent:
    return SSEEvent(type="message", data=data, last_event_id=last_event_id)


@dataclass(frozen=True)
class State:
    """Everything a parser lets a test observe after a whole stream."""

    events: list[SSEEvent]
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    last_event_id: str = ""


def parse(chunks: Sequence[bytes]) -> State:
    parser = EventStreamParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return State(events, parser.comments, parser.retry, parser.last_event_id)


def one_byte_at_a_time(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


CASES = [
    # The examples of the WHATWG section, in its order.
    pytest.param(
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        State([message("YHOO\n+2\n10")]),
        id="spec-multiline-data",
    ),
    pytest.param(
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n\n",
        State(
            [message("first event", "1"), message("second event"), message(" third event")],
            comments=["test stream"],
        ),
        id="spec-four-blocks",
    ),
    pytest.param(
        b"data\n\ndata\ndata\n\ndata:",
        State([message(""), message("\n")]),
        id="spec-data-without-colon",
    ),
    pytest.param(
        b"data:test\n\ndata: test\n\n",
        State([message("test"), message("test")]),
        id="spec-space-after-colon",
    ),
    # Field parsing.
    pytest.param(b"data:\tx\n\n", State([message("\tx")]), id="only-a-space-is-removed"),
    pytest.param(b"data: a: b\n\n", State([message("a: b")]), id="value-keeps-later-colons"),
    pytest.param(b"data: a\x00b\n\n", State([message("a\x00b")]), id="data-may-hold-nul"),
    pytest.param(
        b"event: update\ndata: x\n\n",
        State([SSEEvent(type="update", data="x", last_event_id="")]),
        id="event-sets-type",
    ),
    pytest.param(
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        State([SSEEvent(type="a", data="1", last_event_id=""), message("2")]),
        id="event-type-resets-after-dispatch",
    ),
    pytest.param(
        b"event: ping\n\ndata: x\n\n",
        State([message("x")]),
        id="block-without-data-not-dispatched-and-type-reset",
    ),
    pytest.param(
        b"foo: bar\nData: x\nDATA\n\ndata: y\n\n",
        State([message("y")]),
        id="unknown-and-miscased-fields-ignored",
    ),
    # Comments.
    pytest.param(
        b": hello\n:world\n:\n\n",
        State([], comments=["hello", "world", ""]),
        id="comment-only-stream",
    ),
    pytest.param(
        b"data: a\n: keep-alive\ndata: b\n\n",
        State([message("a\nb")], comments=["keep-alive"]),
        id="comment-inside-block",
    ),
    # The last event ID.
    pytest.param(
        b"id: 7\ndata: a\n\ndata: b\n\n",
        State([message("a", "7"), message("b", "7")], last_event_id="7"),
        id="id-persists-to-later-events",
    ),
    pytest.param(
        b"id: 3\n\ndata: a\n\n",
        State([message("a", "3")], last_event_id="3"),
        id="id-in-undispatched-block-persists",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        State([message("a", "1"), message("b", "1")], last_event_id="1"),
        id="id-with-nul-ignored",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        State([message("a", "1"), message("b", "")]),
        id="empty-id-resets",
    ),
    pytest.param(
        b"id:a:b\ndata: x\n\n",
        State([message("x", "a:b")], last_event_id="a:b"),
        id="id-keeps-later-colons",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\n",
        State([message("a", "1")], last_event_id="1"),
        id="id-takes-effect-at-blank-line",
    ),
    # The reconnection time.
    pytest.param(b"retry: 1500\n\n", State([], retry=1500), id="retry"),
    pytest.param(b"retry:0\n", State([], retry=0), id="retry-applies-without-blank-line"),
    pytest.param(
        b"retry: 1500\nretry: 15x\nretry: -1\nretry: 1.5\nretry:\nretry:  20\n"
        b"retry: \xc2\xb2\nretry: \xd9\xa3\n\n",
        State([], retry=1500),
        id="retry-with-non-digits-ignored",
    ),
    # Line ends.
    pytest.param(b"data: a\r\ndata: b\r\n\r\n", State([message("a\nb")]), id="crlf"),
    pytest.param(b"data: a\rdata: b\r\r", State([message("a\nb")]), id="cr"),
    pytest.param(
        b"data: a\r\ndata: b\rdata: c\n\r",
        State([message("a\nb\nc")]),
        id="mixed-line-ends",
    ),
    pytest.param(
        b"data: a\n\rdata: b\r\n\n",
        State([message("a"), message("b")]),
        id="lf-cr-is-two-line-ends",
    ),
    # Decoding.
    pytest.param(b"\xef\xbb\xbfdata: x\n\n", State([message("x")]), id="bom-stripped"),
    pytest.param(
        b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n",
        State([message("y")]),
        id="bom-stripped-once",
    ),
    pytest.param(
        b"data: x\n\n\xef\xbb\xbfdata: y\n\n",
        State([message("x")]),
        id="bom-later-is-content",
    ),
    pytest.param(
        "data: café 🔬\n\n".encode(),
        State([message("café 🔬")]),
        id="utf-8",
    ),
    pytest.param(b"data: \xff!\n\n", State([message("\ufffd!")]), id="invalid-utf-8-replaced"),
    # The end of the stream.
    pytest.param(b"data: a\n\ndata: b\n", State([message("a")]), id="unterminated-event-discarded"),
    pytest.param(b"data: a\n\ndata: b", State([message("a")]), id="unterminated-line-discarded"),
    pytest.param(b"data: a\n\n: bye", State([message("a")]), id="unterminated-comment-discarded"),
    pytest.param(b"", State([]), id="empty-stream"),
]


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_parse_whole_stream(stream: bytes, expected: State) -> None:
    assert parse([stream]) == expected


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_parse_one_byte_at_a_time(stream: bytes, expected: State) -> None:
    assert parse(one_byte_at_a_time(stream)) == expected


SAMPLE = (
    b"\xef\xbb\xbf: hi\r\n"
    b"retry: 250\r"
    b"id: \xe2\x91\xa0\n"
    b"event: caf\xc3\xa9\r\n"
    b'data: {"emoji": "\xf0\x9f\x94\xac"}\r'
    b"data\n"
    b"\r\n"
    b"data: second\r"
    b"\r"
    b"event: none\n"
    b"\n"
    b"id\r\n"
    b"data: third\n"
    b"\r"
    b"data: unfinished\r\n"
)


def test_sample_covers_every_feature() -> None:
    assert parse([SAMPLE]) == State(
        [
            SSEEvent(type="café", data='{"emoji": "🔬"}\n', last_event_id="①"),
            message("second", "①"),
            message("third", ""),
        ],
        comments=["hi"],
        retry=250,
    )


@pytest.mark.parametrize("offset", range(len(SAMPLE) + 1))
def test_split_anywhere_gives_same_result(offset: int) -> None:
    assert parse([SAMPLE[:offset], SAMPLE[offset:]]) == parse([SAMPLE])


def test_split_into_single_bytes_gives_same_result() -> None:
    assert parse(one_byte_at_a_time(SAMPLE)) == parse([SAMPLE])


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # Were the LF a second line end, it would dispatch "a" alone.
    chunks = [b"data: a\r", b"", b"\n", b"data: \xc3", b"\xa9\r", b"\n\r", b"\n"]
    assert parse(chunks) == State([message("a\né")])


def test_feed_returns_events_as_soon_as_complete() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"\ndata: b\n\ndata: c\n\n") == [message("a"), message("b"), message("c")]
    assert parser.feed(b"data: d\r") == []
    assert parser.feed(b"\r") == [message("d")]


def test_last_event_id_follows_dispatch() -> None:
    parser = EventStreamParser()
    parser.feed(b"id: 5\ndata: x\n\nid: 6\n")
    assert parser.last_event_id == "5"
    assert parser.feed(b"\n") == []
    assert parser.last_event_id == "6"


def test_json() -> None:
    event = message('{"value": [1, 2.5, null]}')
    assert event.json() == {"value": [1, 2.5, None]}
    with pytest.raises(json.JSONDecodeError):
        message("not json").json()


# Streaming responses, without a network.


def test_iter_events() -> None:
    response = httpx2.Response(200, content=iter([b"data: a\n", b"\nid: 1\nda", b"ta: b\n\n"]))
    parser = EventStreamParser()
    assert list(iter_events(response, parser)) == [message("a"), message("b", "1")]
    assert parser.last_event_id == "1"


async def test_aiter_events() -> None:
    async def body() -> AsyncIterator[bytes]:
        for chunk in [b"data: a\n", b"\nid: 1\nda", b"ta: b\n\n", b"data: c\n"]:
            yield chunk

    response = httpx2.Response(200, content=body())
    assert [event async for event in aiter_events(response)] == [message("a"), message("b", "1")]


def event_stream_client(
    body: Sequence[bytes],
    *,
    then_hang: bool = False,
    content_type: str = "text/event-stream",
    status_code: int = 200,
    requests: list[httpx2.Request] | None = None,
) -> httpx2.AsyncClient:
    """A client whose every GET answers `body`, then ends or hangs."""

    async def stream() -> AsyncIterator[bytes]:
        for chunk in body:
            yield chunk
        if then_hang:
            await asyncio.Event().wait()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if requests is not None:
            requests.append(request)
        return httpx2.Response(
            status_code, headers={"content-type": content_type}, content=stream()
        )

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handle), base_url="http://test")


FRAMES = [b": hello\nretry: 100\n\n", b"id: 1\ndata: a\n\n", b"data: b\n\n", b"data: c\n\n"]


async def test_read_events_until_stream_ends() -> None:
    async with event_stream_client(FRAMES) as client:
        events, parser = await read_events(client, "/events")
    assert events == [message("a", "1"), message("b", "1"), message("c", "1")]
    assert (parser.comments, parser.retry, parser.last_event_id) == (["hello"], 100, "1")


async def test_read_events_stops_at_limit_on_open_stream() -> None:
    async with event_stream_client(FRAMES, then_hang=True) as client:
        events, _ = await read_events(client, "/events", limit=2, timeout=1)
    assert events == [message("a", "1"), message("b", "1")]


async def test_read_events_stops_when_until_accepts() -> None:
    async with event_stream_client(FRAMES, then_hang=True) as client:
        events, _ = await read_events(client, "/events", until=lambda e: e.data == "b", timeout=1)
    assert events == [message("a", "1"), message("b", "1")]


async def test_read_events_sends_accept_and_extra_headers() -> None:
    requests: list[httpx2.Request] = []
    async with event_stream_client(FRAMES, requests=requests) as client:
        await read_events(client, "/events", headers={"last-event-id": "7"})
    (request,) = requests
    assert request.method == "GET"
    assert request.url == "http://test/events"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["last-event-id"] == "7"


async def test_read_events_accepts_content_type_parameters() -> None:
    client = event_stream_client(FRAMES, content_type="Text/Event-Stream; charset=utf-8")
    async with client:
        events, _ = await read_events(client, "/events", limit=1)
    assert events == [message("a", "1")]


@pytest.mark.parametrize(
    ("status_code", "content_type", "then_hang", "expected"),
    [
        (200, "application/json", False, "answered 200 with content-type 'application/json'"),
        (200, "text/event-streams", False, "answered 200 with content-type 'text/event-streams'"),
        (404, "text/event-stream", True, "answered 404 with content-type 'text/event-stream'"),
    ],
)
async def test_read_events_rejects_other_responses(
    status_code: int, content_type: str, then_hang: bool, expected: str
) -> None:
    client = event_stream_client(
        [b'{"detail": "no such stream"}'],
        then_hang=then_hang,
        content_type=content_type,
        status_code=status_code,
    )
    async with client:
        with pytest.raises(AssertionError) as raised:
            await read_events(client, "/events", timeout=1)
    assert expected in str(raised.value)
    assert "no such stream" in str(raised.value)


async def test_read_events_times_out_with_what_it_got() -> None:
    async with event_stream_client(FRAMES, then_hang=True) as client:
        with pytest.raises(TimeoutError, match=r"waited 0.05 s for 5 events .* got 3 events"):
            await read_events(client, "/events", limit=5, timeout=0.05)


async def test_read_events_rejects_limit_below_one() -> None:
    async with event_stream_client(FRAMES) as client:
        with pytest.raises(ValueError, match="limit must be at least 1"):
            await read_events(client, "/events", limit=0)


# A real server.


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Run `app` on hypercorn on a free port; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = hypercorn.config.Config()
    # Hypercorn wraps the descriptor in a socket object of its own and closes
    # it at shutdown, so ownership is handed over rather than shared.
    config.bind = [f"fd://{sock.detach()}"]
    config.graceful_timeout = 1
    shutdown = asyncio.Event()
    # Starlette types its ASGI interface with plain mappings and hypercorn with
    # TypedDicts; the two describe the same protocol.
    asgi_app = cast(ASGIFramework, app)
    server = asyncio.create_task(
        hypercorn.asyncio.serve(asgi_app, config, shutdown_trigger=shutdown.wait)
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        shutdown.set()
        await server


async def test_read_events_from_hypercorn() -> None:
    async def frames() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n: keep-alive\n\n"
        for n in range(3):
            # A pause between frames, as a live source would make.
            await asyncio.sleep(0.01)
            yield f'id: {n}\nevent: tick\ndata: {{"n": {n}}}\n\n'.encode()

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(frames(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/events", events)])
    async with serve(app) as url, httpx2.AsyncClient(base_url=url) as client:
        received, parser = await read_events(client, "/events", timeout=5)
    assert received == [SSEEvent("tick", f'{{"n": {n}}}', str(n)) for n in range(3)]
    assert [event.json()["n"] for event in received] == [0, 1, 2]
    assert (parser.comments, parser.retry, parser.last_event_id) == (["keep-alive"], 2000, "2")


async def test_hypercorn_delivers_each_frame_and_sees_the_client_leave() -> None:
    first_received = asyncio.Event()
    generator_closed = asyncio.Event()

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield b"data: first\n\n"
            # Deadlocks unless the first frame reached the client on its own.
            await first_received.wait()
            yield b"data: second\n\n"
            await asyncio.Event().wait()
        finally:
            generator_closed.set()

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(frames(), media_type="text/event-stream")

    async def not_events(request: Request) -> PlainTextResponse:
        return PlainTextResponse("plain")

    def until(event: SSEEvent) -> bool:
        first_received.set()
        return event.data == "second"

    app = Starlette(routes=[Route("/events", events), Route("/plain", not_events)])
    async with serve(app) as url, httpx2.AsyncClient(base_url=url) as client:
        received, _ = await read_events(client, "/events", until=until, timeout=5)
        assert received == [message("first"), message("second")]
        # Leaving read_events closed the connection, which ends the response.
        await asyncio.wait_for(generator_closed.wait(), 5)
        with pytest.raises(AssertionError, match=r"'text/plain; charset=utf-8'.*b'plain'"):
            await read_events(client, "/plain", timeout=5)
