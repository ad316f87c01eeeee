"""What every route needs to know about the server it belongs to.

Layer: HTTP (anyio, the manager). One ``ServerState`` is built by the
ThingServer and handed to the route factories, so routes hold no globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from .manager import ActionManager

__all__ = ("ServerState",)


@dataclass
class ServerState:
    """Settings and services shared by the routes of one server.

    Attributes:
        manager: Runs the invocations.
        body_limit: Largest request body accepted, in bytes.
        max_wait: Cap on ``Prefer: wait=N``, in seconds.
        page_size: Default number of invocations per list page.
        max_page_size: Largest page a client may ask for.
        debug: Put tracebacks in 500 responses.
        property_limiter: Bounds the threads that run functional property
            getters and setters (which may block on hardware).
        held: Cancel scopes of requests held open by ``Prefer: wait``,
            released at once when the server starts shutting down.
    """

    manager: ActionManager
    body_limit: int = 1024 * 1024
    max_wait: float = 30.0
    page_size: int = 100
    max_page_size: int = 10_000
    debug: bool = False
    property_limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(8)
    )
    held: set[anyio.CancelScope] = field(default_factory=set)

    def release_held(self) -> None:
        """Answer every request held by ``Prefer: wait`` now (at shutdown)."""
        for scope in tuple(self.held):
            scope.cancel()
