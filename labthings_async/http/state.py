"""What every route needs to know about the server it belongs to.

Layer: HTTP (starlette's request, the manager). One ``ServerState`` is
built by the ThingServer and kept on the app (``app.state.labthings``), where
the module-level endpoints find it through ``server_state(request)``: routes
hold no globals and no closures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from ..events import EventStream
from ..manager import ActionManager
from ..property_access import PropertyAccess
from ..throughput import Throughput
from ..tokens import StreamTokens, TokenStore

__all__ = ("ServerState", "server_state")


@dataclass
class ServerState:
    """Settings and services shared by the routes of one server.

    Attributes:
        manager: Runs the invocations.
        body_limit: Largest request body accepted, in bytes.
        body_timeout: Seconds a request body may take to arrive (then 408).
        max_wait: Cap on ``Prefer: wait=N``, in seconds.
        sync_timeout: How long a ``?reply=output`` invocation may take before
            the reply gives up (504) and points at the invocation instead.
        debug: Put tracebacks in 500 responses.
        property_timeout: Seconds a request waits for a functional property's
            getter or setter (which may block on hardware) before a 504.
        properties: Runs those getters and setters, in the manager's worker
            threads, eight at a time.
        keepalive: Seconds between keep-alive comments on idle event streams.
        stream_stall_timeout: Seconds an event stream waits for a client that
            has stopped reading before it cuts the stream off.
        retry_ms: Reconnection delay suggested to event-stream clients.
        streams: The subscriptions of open event streams.
        max_streams: Most event streams open at once; beyond it, 503.
        stream_lifetime: Seconds after which the server ends an event stream
            (the client reconnects); None: it lasts until the client goes.
        stream_throughput: How fast event streams have been closing, for
            the ``Retry-After`` of a refused one.
        closing: True once the server has begun to shut down.
        held: What releases each request held open (by ``Prefer: wait``, or
            an event stream's write waiting for its client), all called at
            once when the server starts shutting down.
        panel: Serve the page for people: the control panel at ``/`` (and a
            Thing's panel at its URL, to browsers) and the API docs at ``/docs``.
        tokens: The bearer tokens accepted and their roles; None: no
            authentication (the default).
        stream_tokens: Issues and checks the read-only tokens for URLs.
    """

    manager: ActionManager
    body_limit: int = 1024 * 1024
    body_timeout: float = 30.0
    max_wait: float = 30.0
    sync_timeout: float = 300.0
    debug: bool = False
    property_timeout: float = 60.0
    properties: PropertyAccess = field(init=False)
    keepalive: float = 15.0
    stream_stall_timeout: float = 30.0
    retry_ms: int = 2000
    streams: set[EventStream] = field(default_factory=set)
    max_streams: int = 1000
    stream_lifetime: float | None = None
    stream_throughput: Throughput = field(default_factory=Throughput)
    closing: bool = False
    held: set[Callable[[], object]] = field(default_factory=set)
    panel: bool = True
    tokens: TokenStore | None = None
    stream_tokens: StreamTokens = field(default_factory=StreamTokens)

    def __post_init__(self) -> None:
        self.properties = PropertyAccess(self.manager.threads, timeout=self.property_timeout)

    def begin_shutdown(self) -> None:
        """Close every event stream and answer every held request, now.

        hypercorn waits for open connections to finish before the lifespan
        shuts the manager down, so these must end first.
        """
        self.closing = True
        for subscription in tuple(self.streams):
            subscription.close()
        for release in tuple(self.held):
            release()


def server_state(connection: HTTPConnection) -> ServerState:
    """The state of the server a request came to."""
    state: ServerState = connection.app.state.labthings
    return state
