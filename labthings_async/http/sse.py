"""Server-Sent Events on Starlette: framing, keep-alive, and the streaming response.

Layer: HTTP (starlette, anyio, the hub). Implemented here rather than with
sse-starlette, whose shutdown handling assumes uvicorn. Frames are built once
per event and shared by every subscriber (cached on the event); frames that
are ready together go out in one write. The response watches for the client
going away, so a dropped connection frees its subscription at once, not at the
next keep-alive.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..events import Event, EventStream

__all__ = (
    "EventStreamResponse",
    "event_frames",
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


async def event_frames(
    subscription: EventStream,
    *,
    render: Callable[[Event], bytes] = named_frame,
    keepalive: float = 15.0,
    retry_ms: int = 2000,
    lifetime: float | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of an event stream: a greeting, then events and keep-alives.

    The subscription is closed when the stream ends for any reason, including
    a client that goes away while the greeting is being sent. With a
    ``lifetime``, the stream ends after that many seconds; a client
    reconnects with ``Last-Event-ID`` and misses nothing still buffered.
    """
    deadline = math.inf if lifetime is None else time.monotonic() + lifetime
    async with subscription:
        yield b"retry: %d\n: connected\n\n" % retry_ms
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready: list[bytes] = []
            while len(ready) < _BATCH:
                event = subscription.next_nowait()
                if event is None:
                    break
                ready.append(render(event))
            if ready:
                yield b"".join(ready)
                continue
            next_event: Event | None = None
            with anyio.move_on_after(min(keepalive, left)):
                try:
                    next_event = await anext(subscription)
                except StopAsyncIteration:
                    return
            yield KEEPALIVE if next_event is None else render(next_event)


class EventStreamResponse(Response):
    """A ``text/event-stream`` response that stops when the client disconnects.

    Args:
        frames: The stream's bytes (see ``event_frames``).
        head_only: Answer the headers only (for ``HEAD``); ``frames`` is closed.
        headers: Extra headers.
        on_close: Called once the response is over, however it ends. An async
            generator that never started runs none of its own clean-up when
            closed (a ``HEAD``, or a client gone before the first chunk), so
            whatever the stream holds is released here.
        shutdown_scopes: Cancel scopes the server cancels when it starts to
            shut down. While a write waits for the client to take more bytes,
            its scope is in this set, so a client that has stopped reading
            cannot hold up the shutdown.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        head_only: bool = False,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], object] | None = None,
        shutdown_scopes: set[anyio.CancelScope] | None = None,
    ) -> None:
        self.frames = frames
        self.head_only = head_only
        self.on_close = on_close
        self.shutdown_scopes = shutdown_scopes if shutdown_scopes is not None else set()
        self.status_code = 200
        self.background = None
        self.init_headers({**SSE_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream until it ends or the client goes away."""
        try:
            async with aclosing(self.frames) as frames:  # type: ignore[type-var]
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
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
            try:
                async for chunk in frames:
                    if not await self._write(send, chunk, more_body=True):
                        break
                else:
                    await self._write(send, b"", more_body=False)
            except OSError:
                pass  # The client went away mid-write.
            task_group.cancel_scope.cancel()

    async def _write(self, send: Send, body: bytes, *, more_body: bool) -> bool:
        """Send one chunk; False if the server's shutdown interrupted the write.

        hypercorn's write waits until the client has taken most of what was
        sent before. A client that stopped reading (asleep, or wedged) makes it
        wait for good; hypercorn would then wait for that connection at
        shutdown, and a cancellation arriving there later leaves its own
        close waiting on the same full buffer, indefinitely.
        """
        with anyio.CancelScope() as scope:
            self.shutdown_scopes.add(scope)
            try:
                await send({"type": "http.response.body", "body": body, "more_body": more_body})
            finally:
                self.shutdown_scopes.discard(scope)
        return not scope.cancelled_caught
