"""Server-Sent Events on Starlette: framing, keep-alive, and the streaming responses.

Layer: HTTP (starlette, asyncio, the hub). Implemented here rather than with
sse-starlette, whose shutdown handling assumes uvicorn. Frames are built once
per event and shared by every subscriber (cached on the event); frames that
are ready together go out in one write. The response watches for the client
going away, so a dropped connection frees its subscription at once, not at the
next keep-alive.

An event stream's task does nothing per event but take the frames ready and
write them: no generator between the subscription and the write, no timer
per wait (one keep-alive timer per stream, moved on only when it fires) and
no cancel scope per write (a write is interrupted, when the server shuts
down or the client goes, by cancelling the task while it waits). Measured
with ``benchmarks/property_fanout.py``: see the benchmarks README.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..events import Event, EventStream

__all__ = (
    "ChunkStreamResponse",
    "EventStreamResponse",
    "StreamingResponse",
    "named_frame",
    "unnamed_frame",
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
_BATCH = 64


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
    """``id:`` and ``data:`` only: a default ``message`` event, for node-wot 0.9."""
    frame = event.cache_unnamed
    if frame is None:
        frame = event.cache_unnamed = b"id: %d\ndata: %s\n\n" % (event.id, event.data)
    return frame


class StreamingResponse(Response):
    """A response that streams until it ends, the client goes away, or the server shuts down.

    What it streams is ``write_body``'s to say (a subclass's). Writes go through
    ``write``, which returns False once the stream must stop.

    Args:
        head_only: Answer the headers only (for ``HEAD``).
        headers: Extra headers.
        on_close: Called once the response is over, however it ends: what
            the stream holds is released there.
        shutdown_scopes: What the server calls when it starts to shut down.
            While a write waits for the client to take more bytes, what
            interrupts it is in this set, so a client that has stopped
            reading cannot hold up the shutdown.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        *,
        head_only: bool = False,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], object] | None = None,
        shutdown_scopes: set[Callable[[], object]] | None = None,
    ) -> None:
        self.head_only = head_only
        self.on_close = on_close
        self.shutdown_scopes = shutdown_scopes if shutdown_scopes is not None else set()
        self.status_code = 200
        self.background = None
        self.init_headers({**SSE_HEADERS, **(headers or {})})
        self._task: asyncio.Task[object] | None = None
        self._writing = False
        self._stopped = False
        self._cancelled = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream until it ends, the client goes away or the server shuts down."""
        watcher: asyncio.Task[None] | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if self.head_only:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            self._task = asyncio.current_task()
            watcher = asyncio.get_running_loop().create_task(self._watch(receive))
            if await self.write_body(send):
                await self.write(send, b"", more_body=False)
        except asyncio.CancelledError:
            if not self._cancelled or self._task is None:
                raise
            self._task.uncancel()  # Our own stop, not the server's: it ends here.
        except OSError:
            pass  # The client went away mid-write.
        finally:
            if watcher is not None:
                watcher.cancel()
            self._task = None
            if self.on_close is not None:
                self.on_close()

    async def write_body(self, send: Send) -> bool:
        """Write the stream's chunks; True if it ended of itself (rather than was stopped)."""
        raise NotImplementedError

    async def _watch(self, receive: Receive) -> None:
        """Wait for the client to go away, then stop the stream."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stop()

    def stop(self) -> None:
        """Stop the stream: interrupt a write the client is not taking, or an idle wait."""
        self._stopped = True
        if self._writing or not self.wake():
            task = self._task
            if task is not None and not self._cancelled:
                self._cancelled = True
                task.cancel()

    def wake(self) -> bool:
        """Make an idle stream look again at whether it should stop; False if it cannot."""
        return False

    async def write(self, send: Send, body: bytes, *, more_body: bool = True) -> bool:
        """Send one chunk; False if the stream was stopped (the chunk may not have gone out).

        hypercorn's write waits until the client has taken most of what was
        sent before. A client that stopped reading (asleep, or wedged) makes it
        wait for good; hypercorn would then wait for that connection at
        shutdown, and a cancellation arriving there later leaves its own
        close waiting on the same full buffer, indefinitely. So while it
        waits, ``stop`` is in the server's shutdown set.
        """
        if self._stopped:
            return False
        message: Message = {"type": "http.response.body", "body": body, "more_body": more_body}
        stop = self.stop
        self.shutdown_scopes.add(stop)
        self._writing = True
        try:
            await send(message)
        finally:
            self._writing = False
            self.shutdown_scopes.discard(stop)
        return not self._stopped


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response: a greeting, then an event stream's frames and keep-alives.

    Args:
        stream: The events (a subscription, or several merged); closed by
            ``on_close``, not here.
        render: An event's frame.
        keepalive: Seconds of silence after which a keep-alive comment goes out.
        retry_ms: Reconnection delay suggested to the client.
        head_only: See ``StreamingResponse``, as are the rest.
    """

    def __init__(
        self,
        stream: EventStream,
        *,
        render: Callable[[Event], bytes] = named_frame,
        keepalive: float = 15.0,
        retry_ms: int = 2000,
        head_only: bool = False,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], object] | None = None,
        shutdown_scopes: set[Callable[[], object]] | None = None,
    ) -> None:
        super().__init__(
            head_only=head_only, headers=headers, on_close=on_close, shutdown_scopes=shutdown_scopes
        )
        self.stream = stream
        self.frame = render
        self.keepalive = keepalive
        self.retry_ms = retry_ms
        self._last_write = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._keepalive_due = False

    async def write_body(self, send: Send) -> bool:
        """The greeting, then frames as they come, a keep-alive after each silence."""
        stream = self.stream
        render = self.frame
        loop = asyncio.get_running_loop()
        if not await self._write_now(send, b"retry: %d\n: connected\n\n" % self.retry_ms, loop):
            return False
        self._timer = loop.call_at(self._last_write + self.keepalive, self._tick)
        try:
            while True:
                ready: list[bytes] = []
                while len(ready) < _BATCH:
                    event = stream.next_nowait()
                    if event is None:
                        break
                    ready.append(render(event))
                if ready:
                    if not await self._write_now(send, b"".join(ready), loop):
                        return False
                    continue
                if stream.ended:
                    return True
                if self._stopped:
                    return False
                if self._keepalive_due:
                    self._keepalive_due = False
                    if not await self._write_now(send, KEEPALIVE, loop):
                        return False
                    continue
                await stream.wait()
        finally:
            if self._timer is not None:
                self._timer.cancel()

    async def _write_now(self, send: Send, body: bytes, loop: asyncio.AbstractEventLoop) -> bool:
        written = await self.write(send, body)
        self._last_write = loop.time()
        return written

    def _tick(self) -> None:
        """The keep-alive timer: due if the stream has been silent long enough, else later."""
        loop = asyncio.get_running_loop()
        due = self._last_write + self.keepalive
        if loop.time() >= due:
            self._keepalive_due = True
            self.stream.wake()
            due = loop.time() + self.keepalive
        self._timer = loop.call_at(due, self._tick)

    def wake(self) -> bool:
        """Make the stream look again at whether it should stop."""
        self.stream.wake()
        return True


class ChunkStreamResponse(StreamingResponse):
    """A streaming response of the chunks an async iterator yields (a camera's parts, say).

    Args:
        chunks: What to send; closed when the response ends.
        head_only: See ``StreamingResponse``, as are the rest.
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        head_only: bool = False,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], object] | None = None,
        shutdown_scopes: set[Callable[[], object]] | None = None,
    ) -> None:
        super().__init__(
            head_only=head_only, headers=headers, on_close=on_close, shutdown_scopes=shutdown_scopes
        )
        self.chunks = chunks

    async def write_body(self, send: Send) -> bool:
        """Each chunk as it comes."""
        async with aclosing(self.chunks) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                if not await self.write(send, chunk):
                    return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the chunks; a ``HEAD`` closes them unread."""
        if self.head_only:
            await self.chunks.aclose()  # type: ignore[attr-defined]
        await super().__call__(scope, receive, send)
