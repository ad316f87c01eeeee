"""Server-Sent Events on Starlette: framing, keep-alive, pacing, and the streaming response.

Layer: HTTP (starlette, anyio, the hub). Implemented here rather than with
sse-starlette, whose shutdown handling assumes uvicorn. Frames are built once
per event and shared by every subscriber (cached on the event); frames that
are ready together go out in one write.

Many streams must not slow the server: while events keep coming, a stream
pauses between writes, each write carrying everything that arrived
meanwhile. The pause grows with the number of open streams
(``WRITE_SHARE`` seconds each, up to ``MAX_PACE``), so together they make
at most some 1 / ``WRITE_SHARE`` writes a second, rather than one per event
each, until so many are open that each pauses ``MAX_PACE`` (then no event
waits longer than that for its stream's turn); one stream alone hardly
pauses. A quiet stream's next event goes at once. Waiting costs no timer
per event or per write: each stream has one keep-alive alarm and one stall
watch, moved only when they ring.

A client that stops reading costs nothing for long: once the server has
nowhere to put more of its stream, the stream waits, its subscription falls
behind (marked lagged, which costs a publisher nothing), and after
``stall_timeout`` seconds it is cut off, letting go of the events it held. If
the client wakes, its ``EventSource`` reconnects with ``Last-Event-ID`` and
catches up, with the ``lost`` event if the buffer has moved on. The response
watches for the client going away, so a dropped connection frees its
subscription at once, and nothing of its backlog is rendered.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing, suppress

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..events import Event, EventStream

__all__ = (
    "MAX_PACE",
    "WRITE_SHARE",
    "EventStreamResponse",
    "event_frames",
    "named_frame",
    "pace_for",
    "unnamed_frame",
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
WRITE_SHARE = 0.0001
"""Seconds of pause between two writes of a busy stream, per open stream.

While events keep coming, all streams together make at most some 10,000
writes a second, up to 2,500 streams (``MAX_PACE`` / ``WRITE_SHARE``);
benchmarks/README.md weighs the pause against the CPU it saves.
"""

MAX_PACE = 0.25
"""The longest pause between two writes of a busy stream, however many are open."""

_BATCH = 512
"""Most frames in one write (a lagging stream's catch-up comes in writes this size)."""

_CHUNK_BYTES = 256 * 1024
"""Enough bytes for one write: no more frames are added once a chunk holds this many.

A stream renders only what it writes next, so a client that stops reading
leaves the rest of its backlog unrendered, and one chunk never holds a
backlog of large events in memory at once.
"""

logger = logging.getLogger("labthings_async.server")


def named_frame(event: Event) -> bytes:
    """``id:``, ``event:`` and ``data:`` lines: built once, then shared."""
    frame = event.cache
    if frame is None:
        frame = event.cache = b"id: %d\nevent: %s\ndata: %s\n\n" % (
            event.id,
            event.name.encode(),
            event.data,
        )
    return frame


def unnamed_frame(event: Event) -> bytes:
    """``id:`` and ``data:`` only: a default ``message`` event, for node-wot 0.9.

    The ``lost`` notice keeps its name, so a reader of values (which reads
    only unnamed events) never takes it for one.
    """
    if event.lost:
        return named_frame(event)
    frame = event.cache_unnamed
    if frame is None:
        frame = event.cache_unnamed = b"id: %d\ndata: %s\n\n" % (event.id, event.data)
    return frame


_SHORTEST_SLEEP = 0.001
"""The shortest pause the event loop keeps: epoll waits whole milliseconds,
so a shorter sleep lasts a millisecond all the same."""


def pace_for(streams: int) -> float:
    """Seconds between two writes of a busy stream, when ``streams`` are open.

    Below the loop's shortest sleep (with fewer than ten streams) there is
    no pause, only a turn of the loop: a 0.5 ms pause would last 1 ms, and
    a stream followed alone, an invocation's say, would wait that long
    between its events for nothing.
    """
    pace = min(MAX_PACE, streams * WRITE_SHARE)
    return pace if pace >= _SHORTEST_SLEEP else 0.0


async def event_frames(
    subscription: EventStream,
    *,
    render: Callable[[Event], bytes] = named_frame,
    keepalive: float = 15.0,
    retry_ms: int = 2000,
    pace: Callable[[], float] = lambda: 0.0,
    lifetime: float | None = None,
    lead: bytes = b"",
) -> AsyncIterator[bytes]:
    """The bytes of an event stream: a greeting, then events and keep-alives.

    Each chunk holds every event ready when it is made. After each, the
    stream pauses ``pace()`` seconds before it takes more, so while events
    keep coming they go out together; an event after a quiet spell goes at
    once. The subscription is closed when the stream ends for any reason,
    including a client that goes away while the greeting is being sent. With
    a ``lifetime``, the stream ends after that many seconds; a client
    reconnects with ``Last-Event-ID`` and misses nothing still buffered.
    ``lead`` is sent with the greeting, before any event.
    """
    loop = asyncio.get_running_loop()
    deadline = math.inf if lifetime is None else loop.time() + lifetime
    async with subscription:
        alarm = _Alarm(subscription.wake, keepalive, deadline)
        try:
            yield b"retry: %d\n: connected\n\n%s" % (retry_ms, lead)
            alarm.written()
            while loop.time() < deadline:
                ready = _ready_frames(subscription, render)
                if ready:
                    yield b"".join(ready)
                    alarm.written()
                    # Also a turn of the loop for the disconnect watch: a client
                    # that has gone is noticed here, before another chunk is rendered.
                    await asyncio.sleep(pace())
                elif alarm.keepalive_due():
                    yield KEEPALIVE
                    alarm.written()
                elif not await subscription.ready():
                    return
        finally:
            alarm.cancel()


class _Alarm:
    """Wakes a waiting stream when its keep-alive is due, or its lifetime is over.

    One timer per stream, moved only when it fires: waiting for each event
    under a timeout of its own would set and cancel a timer on the path of
    every event of every stream.
    """

    def __init__(self, wake: Callable[[], None], keepalive: float, deadline: float) -> None:
        self._wake = wake
        self._keepalive = keepalive
        self._deadline = deadline
        self._loop = asyncio.get_running_loop()
        self._last_write = self._loop.time()
        self._timer = self._loop.call_at(self._next(), self._ring)

    def written(self) -> None:
        """The stream has just sent something: the next keep-alive is counted from now."""
        self._last_write = self._loop.time()

    def keepalive_due(self) -> bool:
        """True if the stream has sent nothing for ``keepalive`` seconds."""
        return self._loop.time() >= self._last_write + self._keepalive

    def cancel(self) -> None:
        """The stream is over."""
        self._timer.cancel()

    def _next(self) -> float:
        return min(self._last_write + self._keepalive, self._deadline)

    def _ring(self) -> None:
        now = self._loop.time()
        if now >= self._next():
            self._wake()
            # Looked at again a whole period on: the stream may be slow to
            # send its keep-alive (a write under way), and is not woken again
            # and again meanwhile.
            self._timer = self._loop.call_at(now + self._keepalive, self._ring)
        else:
            self._timer = self._loop.call_at(self._next(), self._ring)


def _ready_frames(subscription: EventStream, render: Callable[[Event], bytes]) -> list[bytes]:
    """The frames of the events ready without waiting, for one write.

    At most ``_BATCH`` frames, and no more once they hold ``_CHUNK_BYTES``.
    """
    ready: list[bytes] = []
    size = 0
    while len(ready) < _BATCH and size < _CHUNK_BYTES:
        event = subscription.next_nowait()
        if event is None:
            break
        frame = render(event)
        ready.append(frame)
        size += len(frame)
    return ready


class _WriteWatch:
    """Ends a stream's write that waits too long: a stalled client, or the server shutting down.

    One per stream, not one per write: a write only marks when it began
    (``begin``) and that it is over (``end``), and a single timer, re-armed
    once per ``stall_timeout``, looks at the write under way. Most writes
    return at once, so a timer set and cancelled around each would be work
    for nothing on the path of every write of every stream.
    """

    def __init__(self, timeout: asyncio.Timeout, stall_timeout: float) -> None:
        self._timeout = timeout
        self._stall_timeout = stall_timeout
        self._loop = asyncio.get_running_loop()
        self._writing_since: float | None = None
        self.stalled = False
        self._timer = self._loop.call_later(stall_timeout, self._look)

    def begin(self) -> None:
        """A write begins: it is cut short if it lasts ``stall_timeout``."""
        self._writing_since = self._loop.time()

    def end(self) -> None:
        """The write is over."""
        self._writing_since = None

    def shutdown(self) -> None:
        """The server is stopping: end the write under way, if there is one, now."""
        if self._writing_since is not None:
            self._end_now()

    def close(self) -> None:
        """The stream is over: the timer goes."""
        self._timer.cancel()

    def _look(self) -> None:
        since = self._writing_since
        now = self._loop.time()
        if since is not None and now - since >= self._stall_timeout:
            self.stalled = True
            self._end_now()
            return
        start = now if since is None else since
        self._timer = self._loop.call_at(start + self._stall_timeout, self._look)

    def _end_now(self) -> None:
        if not self._timeout.expired():
            self._timeout.reschedule(-math.inf)


class EventStreamResponse(Response):
    """A ``text/event-stream`` response that stops when the client disconnects.

    Args:
        frames: The stream's bytes (see ``event_frames``).
        head_only: Answer the headers only (for ``HEAD``); ``frames`` is closed.
        headers: Extra headers.
        status_code: The response's status (201 for a stream that answers
            the POST that made what it follows).
        on_close: Called once the response is over, however it ends. An async
            generator that never started runs none of its own clean-up when
            closed (a ``HEAD``, or a client gone before the first chunk), so
            whatever the stream holds is released here.
        shutdown_scopes: What the server calls when it starts to shut down.
            While a write waits for the client to take more bytes, what
            cancels it is in this set, so a client that has stopped reading
            cannot hold up the shutdown.
        stall_timeout: Seconds a write may wait for the client to take more
            bytes; then the stream is cut off.
        client: Who the stream is for, as the log names them.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        head_only: bool = False,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
        on_close: Callable[[], object] | None = None,
        shutdown_scopes: set[Callable[[], object]] | None = None,
        stall_timeout: float = 30.0,
        client: str = "a client",
    ) -> None:
        self.frames = frames
        self.stall_timeout = stall_timeout
        self.client = client
        self.head_only = head_only
        self.on_close = on_close
        self.shutdown_scopes = shutdown_scopes if shutdown_scopes is not None else set()
        self.status_code = status_code
        self.background = None
        self.init_headers({**SSE_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream until it ends or the client goes away."""
        try:
            async with aclosing(self.frames) as frames:  # type: ignore[type-var]
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                if self.head_only:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await self._stream(frames, receive, send)
        finally:
            if self.on_close is not None:
                self.on_close()

    async def _stream(self, frames: AsyncIterator[bytes], receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as task_group:

            async def watch_for_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                task_group.cancel_scope.cancel()

            task_group.start_soon(watch_for_disconnect)
            with suppress(OSError):  # The client went away mid-write.
                await self._write_all(frames, send)
            task_group.cancel_scope.cancel()

    async def _write_all(self, frames: AsyncIterator[bytes], send: Send) -> None:
        """Send every chunk, then the end; a write cut short ends the stream.

        hypercorn's write waits until the client has taken most of what was
        sent before. A client that stopped reading (asleep, or wedged) makes it
        wait for good; hypercorn would then wait for that connection at
        shutdown, and a cancellation arriving there later leaves its own
        close waiting on the same full buffer, indefinitely. So a write is
        cut short at shutdown, and after ``stall_timeout`` seconds (``_WriteWatch``).
        """
        # asyncio's timeout, not an anyio cancel scope: it is entered once per
        # stream, and only the watch moves it.
        timeout = asyncio.timeout(None)
        watch = _WriteWatch(timeout, self.stall_timeout)
        self.shutdown_scopes.add(watch.shutdown)
        try:
            async with timeout:
                async for chunk in frames:
                    watch.begin()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    watch.end()
                watch.begin()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            if watch.stalled:
                logger.info(
                    "cut off the event stream of %s: it took nothing for %g s",
                    self.client,
                    self.stall_timeout,
                )
        finally:
            self.shutdown_scopes.discard(watch.shutdown)
            watch.close()
