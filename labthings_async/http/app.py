"""The Starlette application: routes, error handling and CORS, put together.

Layer: app (starlette and the HTTP modules below it). Building the app is a
pure function of the server's state, so an app can be made, mounted and
tested without hypercorn.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from .documents import wot_routes
from .invocations import invocation_routes
from .page import page_routes
from .problem import http_error_handler
from .state import ServerState
from .streams import event_routes
from .things import thing_routes

__all__ = ("RESERVED_AFFORDANCES", "RESERVED_NAMES", "build_app")

RESERVED_NAMES = frozenset(
    {"things", "thing_descriptions", "action_invocations", "events", "docs", "static"}
)
"""Path segments the server uses itself, so no Thing may be called them."""

RESERVED_AFFORDANCES = frozenset({"events", "properties"})
"""``/{thing}/events`` and ``/{thing}/properties`` are the Thing's own routes."""


class _PathRoute(Route):
    """A route that answers every request for its path, whatever the method.

    Starlette prefers a later route that takes the method to an earlier one that
    only matched the path, and ``/{thing}/{name}`` takes every method: a POST to
    ``/action_invocations/{id}`` or ``/{thing}/events`` would reach it and be
    told "no Thing called 'action_invocations'" (404) instead of a 405 with
    ``Allow``. Routes are listed most specific first, so the first whose path
    matches owns the request.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match on the path alone; ``handle`` answers a wrong method with 405."""
        match, child_scope = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child_scope


class _FirstSegmentRouter:
    """Picks the router for a request by its first path segment.

    Starlette tries routes one by one; with every route in one list, an
    affordance request would be matched against some twenty patterns first.
    Here the fixed segments (``action_invocations``, ``things``...) each get a
    small router, and everything else goes to the Things' router.
    """

    def __init__(self, routes: list[BaseRoute]) -> None:
        groups: dict[str, list[BaseRoute]] = {}
        for route in routes:
            path = getattr(route, "path", "")
            segment = path[1:].split("/", 1)[0]
            groups.setdefault("" if segment.startswith("{") else segment, []).append(route)
        self.default = Router(routes=groups.pop(""))
        self.by_segment = {segment: Router(routes=group) for segment, group in groups.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the router of its first path segment."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]  # As Starlette's own routing sees it.
        segment = path[1:].split("/", 1)[0]
        await self.by_segment.get(segment, self.default)(scope, receive, send)


def _owning_paths(routes: list[BaseRoute]) -> list[BaseRoute]:
    return [
        _PathRoute(route.path, route.endpoint, methods=list(route.methods), name=route.name)
        if type(route) is Route and route.methods
        else route
        for route in routes
    ]


def build_app(
    state: ServerState,
    *,
    prefix: str = "",
    lifespan: Any = None,
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """Build the Starlette app serving ``state.manager``'s Things.

    Args:
        state: The manager and settings the routes share.
        prefix: Path prefix of every route (e.g. ``/api``), or "".
        lifespan: The app's lifespan (a callable returning an async context
            manager), usually ``ThingServer.lifespan``.
        cors_origins: Origins whose pages may call the API (``["*"]`` for any).
    """
    # Event routes first: their fixed segments would otherwise match as IDs and names.
    dispatch = _FirstSegmentRouter(
        _owning_paths(
            [
                *event_routes(state),
                *wot_routes(state),
                *invocation_routes(state),
                *(page_routes(state) if state.panel else ()),
                *thing_routes(state),
            ]
        )
    )
    routes: list[BaseRoute] = [Mount(prefix, app=dispatch)]
    middleware = []
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
    lifespan_factory: Any = None
    if lifespan is not None:

        def lifespan_factory(app: Starlette) -> AbstractAsyncContextManager[None]:
            return lifespan()  # type: ignore[no-any-return]

    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan_factory,
        exception_handlers={HTTPException: http_error_handler},
    )
