"""The Starlette application: routes, error handlers and CORS, put together.

Layer: app (starlette and the HTTP modules below it). Routing is Starlette's
own: a ``Mount`` per fixed path segment (``/action_invocations``,
``/things``...) and per Thing, each dispatching by segment; one
``exception_handlers`` table turns every error into problem details. Building
the app is a pure function of the server's state, so an app can be made,
mounted and tested without hypercorn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from .auth import AuthGuard, stream_token_endpoint
from .blobs import blob_routes
from .crosssite import CrossSiteGuard
from .documents import document_routes
from .framing import FramingGuard
from .hosts import AllowedHosts, HostGuard
from .invocations import invocation_routes
from .limits import ConnectionLimit, ConnectionLimitGuard
from .page import page_routes
from .problem import EXCEPTION_HANDLERS, answered_fault
from .state import ServerState, server_state
from .streams import server_events
from .things import thing_routes
from .wire import API_ROOT, first_segment

__all__ = ("RESERVED_NAMES", "ThingApp", "api_routes")

RESERVED_NAMES = frozenset(
    {
        "things",
        "thing_descriptions",
        "action_invocations",
        "openapi.json",
        "events",
        "docs",
        "static",
        "blob",
        "auth",
    }
)
"""Path segments the server uses itself, so no Thing may be called them."""

Lifespan = Callable[[], AbstractAsyncContextManager[None]]


def api_routes(state: ServerState) -> list[BaseRoute]:
    """Every route of the API, relative to its root, the busiest first.

    Starlette tries them in turn: the two of ``/action_invocations`` (polled),
    then two per Thing (read, written and invoked), then the documents, the
    blob downloads, the stream of everything and, unless ``state.panel`` is
    off, the page for people (each asked for once a browser tab).
    """
    return [
        *invocation_routes(),
        *(route for thing in state.manager.things.values() for route in thing_routes(thing)),
        *document_routes(),
        *blob_routes(),
        Route("/events", server_events),
        Route("/auth/stream-token", stream_token_endpoint, methods=["POST"]),
        *(page_routes() if state.panel else ()),
    ]


async def _no_such_thing(scope: Scope, receive: Receive, send: Send) -> None:
    """What no route of the API serves: a path whose first segment names no Thing."""
    name = first_segment(scope)
    if name:
        # Raises ThingNotFoundError, naming the Things there are.
        server_state(HTTPConnection(scope)).manager.get_thing(name)
    raise HTTPException(404)  # The API root itself, or a Thing added after the app was built.


class ThingApp(Starlette):
    """The Starlette app of a ThingServer: mount it, serve it, or test it in-process.

    The routes live under a ``Mount`` at ``prefix`` (or at the root), whose
    router answers a path naming no Thing with a ``ThingNotFoundError``. Beyond a plain
    Starlette app it does two things as each request enters: it records the
    API root (every mount before it, then ``prefix``) for the URLs the
    replies carry, and it ends the exceptions Starlette re-raises after its
    outermost middleware has answered them, once ``unexpected_error`` has
    logged them: otherwise the server (hypercorn, or a host app's) would log
    the same traceback a second time.

    Args:
        state: The manager and settings the routes share (``app.state.labthings``).
        prefix: Path prefix of every route (e.g. ``/api``), or "".
        lifespan: The app's lifespan, usually ``ThingServer.lifespan``.
        cors_origins: Origins whose pages may call the API (``["*"]`` for any).
        allowed_hosts: The host names the app answers to (by default, what
            it is reached at, and ``localhost`` on loopback).
        connections: The count of the server's connections, which says which
            are over its limit (``ThingServer.serve`` counts them).
        routes: Makes the API's routes from the state: every route
            (``api_routes``) unless told otherwise.

    Attributes:
        prefix: Path prefix of every route.
    """

    def __init__(
        self,
        state: ServerState,
        *,
        prefix: str = "",
        lifespan: Lifespan | None = None,
        cors_origins: Sequence[str] = (),
        allowed_hosts: AllowedHosts | None = None,
        connections: ConnectionLimit | None = None,
        routes: Callable[[ServerState], list[BaseRoute]] = api_routes,
    ) -> None:
        # Outermost first: a connection over the limit, then what makes a
        # request untrustworthy whoever sent it (its framing, its Host), then
        # CORS, then who may change state.
        middleware = [
            Middleware(ConnectionLimitGuard, connections=connections or ConnectionLimit()),
            Middleware(FramingGuard),
            Middleware(HostGuard, allowed=allowed_hosts or AllowedHosts()),
        ]
        if cors_origins:
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(cors_origins),
                    allow_methods=["*"],
                    allow_headers=["*"],
                    expose_headers=["Location", "Link", "Retry-After", "Preference-Applied"],
                )
            )
        if state.tokens is not None:
            middleware.append(Middleware(AuthGuard, state=state))
        middleware.append(Middleware(CrossSiteGuard, allowed_origins=cors_origins))
        served = routes(state)
        if prefix:
            served = [Mount(prefix, app=Router(served, default=_no_such_thing))]
        super().__init__(
            routes=served,
            middleware=middleware,
            exception_handlers=EXCEPTION_HANDLERS,
            lifespan=None if lifespan is None else (lambda app: lifespan()),
        )
        if not prefix:
            # The app's own router is the API's. A Mount("") in front of a
            # router of its own would cost some 2 µs a request (of 15-25 µs
            # for routing and replying; measured in-process).
            self.router.default = _no_such_thing
        self.state.labthings = state
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (or the lifespan)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope[API_ROOT] = scope.get("root_path", "") + self.prefix
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:
            if not answered_fault(scope, error):
                raise
