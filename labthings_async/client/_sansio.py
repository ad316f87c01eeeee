"""The client's HTTP protocol without I/O: the steps a flow takes, and event streams.

Layer: client (stdlib, msgspec, httpx2's data types, eventsource and
client_errors; never the manager, routes or server). Flows that take several
exchanges (following an invocation, observing a stream) are written once, as
generators that yield *steps* (``Request``, ``OpenStream``, ``NextEvent``,
``EndStream``, ``Sleep``, ``Emit``) and are sent each step's result; the
async and the sync client each run them with a driver of their own
(``client_drivers``), as hypercorn keeps its protocol code free of the event
loop. Errors met while performing a step are thrown into the generator as
``ClientError``s, so reconnecting (``read_stream``) is protocol logic too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx2
import msgspec

from .errors import (
    ClientError,
    ClientTimeoutError,
    ServerUnavailableError,
)
from .eventsource import EventStreamParser, SSEEvent

__all__ = (
    "END_STREAM",
    "NEXT_EVENT",
    "ClientSettings",
    "Emit",
    "EndStream",
    "EventBuffer",
    "EventHandler",
    "NextEvent",
    "OpenStream",
    "Protocol",
    "Request",
    "Sleep",
    "Step",
    "Stepper",
    "StreamCursor",
    "StreamRefusedError",
    "auth_headers",
    "http_limits",
    "is_event_stream",
    "json_request",
    "read_stream",
    "step_url",
    "stream_headers",
)

_RETRYABLE: Final = (ServerUnavailableError, ClientTimeoutError)


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """How a client talks to a server; the keyword options of both clients.

    Attributes:
        timeout: Seconds allowed for connecting and for each reply.
        invoke_wait: Seconds a plain call asks the server to hold its reply
            (``Prefer: wait``) so a quick action comes back finished, in one
            round trip; a slower one is then followed on its event stream.
            0 asks for that stream as the reply instead (as ``start_action``
            does): one request invokes and follows.
        stream_timeout: Seconds of silence after which an event stream is
            thought dead and reopened (servers send keep-alives every 15 s).
        poll_interval: Longest pause between polls, when a server offers no
            event stream (LabThings-FastAPI 0.3.0); polling starts at 10 ms.
        use_event_streams: Follow invocations over SSE when offered; False
            polls instead (for proxies that buffer event streams).
        reconnect_attempts: Consecutive failures to connect, or streams that
            end with nothing, tolerated before ``ServerUnavailableError``.
        cancel_wait: Seconds a blocking call interrupted by Ctrl-C waits, once
            it has asked the server to cancel, for the invocation to end.
        token: A bearer token, for a server that wants one (sent as
            ``Authorization: Bearer TOKEN`` on every request, event streams
            included); None sends none.
    """

    timeout: float = 10.0
    invoke_wait: float = 0.25
    stream_timeout: float = 60.0
    poll_interval: float = 0.5
    use_event_streams: bool = True
    reconnect_attempts: int = 8
    cancel_wait: float = 10.0
    token: str | None = field(default=None, repr=False)

    def reconnect_delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt, after ``failures`` in a row."""
        return 0.0 if failures <= 1 else min(0.05 * 2.0 ** (failures - 2), 2.0)

    def poll_delay(self, polls: int) -> float:
        """Seconds to wait before poll number ``polls`` (counting from 0)."""
        return min(0.01 * 2.0**polls, self.poll_interval)


# -- steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Send a request and read the whole reply; the result is the ``httpx2.Response``.

    Attributes:
        extra_time: Seconds to allow beyond the usual timeout (``Prefer: wait``).
    """

    method: str
    url: str
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra_time: float = 0.0


@dataclass(frozen=True)
class OpenStream:
    """Ask for an event stream; the result is the response, its body not yet read.

    A GET, or any request whose reply may be a stream (an invoking POST).
    A reply that is not a ``text/event-stream`` is read in full instead.
    Opening a stream closes the one opened before.
    """

    url: str
    last_event_id: str = ""
    method: str = "GET"
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NextEvent:
    """Read the open stream's next event; the result is an ``SSEEvent``, or None at its end."""


NEXT_EVENT: Final = NextEvent()


@dataclass(frozen=True)
class EndStream:
    """Done with the open stream, which the server is about to end; the result is None.

    A driver that can bound the wait reads the rest of the body (briefly), so
    the connection goes back to the pool instead of being closed.
    """


END_STREAM: Final = EndStream()


@dataclass(frozen=True)
class Sleep:
    """Pause; the result is None."""

    seconds: float


@dataclass(frozen=True)
class Emit:
    """Hand a value to whoever iterates over the flow; the result is None."""

    value: Any


Step = Request | OpenStream | NextEvent | EndStream | Sleep | Emit
Protocol = Generator[Step, Any, None]


class Stepper:
    """Advances a protocol generator: the part of a driver that is not I/O."""

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol
        self._result: Any = None
        self._error: ClientError | None = None

    def next_step(self) -> Step | None:
        """The next step, given the last one's result or error; None when the flow is done."""
        error, self._error = self._error, None
        result, self._result = self._result, None
        try:
            if error is not None:
                return self._protocol.throw(error)
            return self._protocol.send(result)
        except StopIteration:
            return None

    def succeed(self, result: Any) -> None:
        """Record the result of the step just performed."""
        self._result = result

    def fail(self, error: ClientError) -> None:
        """Record that the step just performed failed; the flow sees it raised."""
        self._error = error

    def close(self) -> None:
        """Abandon the flow (its ``finally`` blocks run)."""
        self._protocol.close()


def json_request(
    method: str, url: str, body: Any, headers: Mapping[str, str] | None = None
) -> Request:
    """A request whose body is ``body`` encoded as JSON."""
    return Request(
        method,
        url,
        msgspec.json.encode(body),
        {"Content-Type": "application/json", **(headers or {})},
    )


def auth_headers(token: str | None) -> dict[str, str]:
    """The headers that carry a bearer token (none without one)."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def http_limits() -> httpx2.Limits:
    """Connection limits for a client that follows many invocations at once.

    Each invocation followed on its event stream holds a connection open, so
    the pool must be far wider than httpx2's default of 100 (of which only 20
    are kept alive between requests).
    """
    return httpx2.Limits(max_connections=1024, max_keepalive_connections=128)


def step_url(step: Step) -> str:
    """The URL a step is about, for error messages."""
    return step.url if isinstance(step, Request | OpenStream) else "the event stream"


# -- event streams ------------------------------------------------------------------


def stream_headers(step: OpenStream) -> dict[str, str]:
    """The headers of a request for an event stream (with ``Last-Event-ID`` to resume)."""
    headers = {**step.headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if step.last_event_id:
        headers["Last-Event-ID"] = step.last_event_id
    return headers


def is_event_stream(response: httpx2.Response) -> bool:
    """True for a 200 (or, answering a POST, 201) reply whose body is a ``text/event-stream``."""
    content_type = response.headers.get("content-type", "")
    return response.status_code in (200, 201) and (
        content_type.partition(";")[0].strip().lower() == "text/event-stream"
    )


class EventBuffer:
    """Events parsed from a stream's chunks, waiting to be read one at a time."""

    def __init__(self) -> None:
        self._parser = EventStreamParser()
        self._ready: deque[SSEEvent] = deque()

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk of the body."""
        self._ready.extend(self._parser.feed(chunk))

    def pop(self) -> SSEEvent | None:
        """The next complete event, if there is one."""
        return self._ready.popleft() if self._ready else None


@dataclass
class StreamCursor:
    """Where a reader has got to in a stream: what it sends as ``Last-Event-ID``."""

    last_event_id: str = ""


class StreamRefusedError(Exception):
    """The server answered a stream request with something other than a stream."""

    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"{response.request.url} answered {response.status_code}")
        self.response = response


EventHandler = Callable[[SSEEvent], Iterator[Step] | None]
"""Takes one event; returns the steps to take for it (often none), or None to stop."""


def read_stream(
    url: str,
    cursor: StreamCursor,
    handle: EventHandler,
    settings: ClientSettings,
    *,
    opened: bool = False,
) -> Generator[Step, Any, None]:
    """Read an event stream until ``handle`` says stop, reconnecting when it drops.

    With ``opened``, the stream is open already (the reply to the request
    that made what it follows), and ``url`` is where to reconnect.

    ``handle`` says stop at an event after which the server ends the stream
    (an invocation's terminal status), so the rest of the body is read.

    A reconnection sends ``Last-Event-ID``, so the server resumes after the
    last event read and nothing is seen twice. A stream the server ends, or
    that fails, is reopened at once, then after growing pauses; after
    ``settings.reconnect_attempts`` such failures in a row (a stream that
    delivers an event resets the count) the last error is raised.

    Raises:
        StreamRefusedError: The server answered with something other than a
            stream (the caller decides what that means).
        ServerUnavailableError: The server stayed out of reach.
    """
    failures = 0
    while True:
        try:
            if not opened:
                response = yield OpenStream(url, cursor.last_event_id)
                if not is_event_stream(response):
                    raise StreamRefusedError(response)
            opened = False
            while True:
                event: SSEEvent | None = yield NEXT_EVENT
                if event is None:
                    raise ServerUnavailableError(f"the server ended the event stream {url}")
                failures = 0
                cursor.last_event_id = event.last_event_id
                steps = handle(event)
                if steps is None:
                    yield END_STREAM
                    return
                yield from steps
        except _RETRYABLE as error:
            failures += 1
            if failures > settings.reconnect_attempts:
                raise ServerUnavailableError(
                    f"gave up on the event stream {url} after {failures} failed attempts: {error}",
                    problem=error.problem,
                ) from error
            delay = settings.reconnect_delay(failures)
            if delay:
                yield Sleep(delay)
