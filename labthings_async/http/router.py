"""The action and invocation routes of an ActionManager, as an app to mount in one's own.

Layer: HTTP (starlette, the manager). LabThings-FastAPI's
``ActionManager.router()`` gave a FastAPI router of these routes; the domain
does not import the HTTP layer here, so this function builds it instead::

    manager = lt.ActionManager({"stage": stage})
    app = Starlette(routes=[Mount("/lab", app=action_router(manager))], lifespan=...)

The caller runs the manager (``async with manager:``, in the host app's
lifespan). The app serves ``POST``/``GET /{thing}/{action}`` and every
``/action_invocations`` route (reading, output, cancelling, event streams),
with the same replies and problem details as a ThingServer's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from ..manager import ActionManager
from .actions import action_endpoint
from .app import ThingApp
from .invocations import invocation_routes
from .state import ServerState

__all__ = ("action_router", "action_routes")


def action_routes(state: ServerState) -> list[BaseRoute]:
    """The invocation routes, then each Thing's action routes under ``/{thing}``."""
    routes: list[BaseRoute] = [*invocation_routes()]
    for thing in state.manager.things.values():
        actions = [
            Route(
                f"/{name}",
                partial(action_endpoint, thing=thing, descriptor=descriptor),
                methods=["GET", "POST"],
            )
            for name, descriptor in type(thing).actions.items()
        ]
        routes.append(Mount(f"/{thing.name}", routes=actions))
    return routes


def action_router(manager: ActionManager, **settings: Any) -> ThingApp:
    """A Starlette app serving ``manager``'s action and invocation routes; mount it anywhere.

    Args:
        manager: The manager; whoever mounts the app runs it.
        **settings: ``ServerState`` settings (``body_limit``, ``max_wait``...).
    """
    return ThingApp(ServerState(manager, **settings), routes=action_routes)
