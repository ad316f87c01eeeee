"""The routes of one Thing: a ``Mount`` at ``/{thing}`` with a route per affordance.

Layer: HTTP (starlette, the declarations). The Things are fixed when the app
is built, so each gets its own routes with literal paths, each naming the
methods its affordance takes: Starlette itself then answers a wrong method
with 405 and the right ``Allow`` (a read-only property takes no ``PUT``; an
action takes ``GET`` and ``POST``), and a route word such as ``events`` is
never mistaken for an affordance. The endpoints are module-level functions;
the route binds the Thing and the affordance to them with
``functools.partial``. A path under the Thing that nothing serves names what
the Thing has.
"""

from __future__ import annotations

from functools import partial

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from ..errors import AffordanceNotFoundError
from ..thing import Thing
from .actions import action_endpoint
from .camera import camera_routes
from .custom import custom_routes
from .documents import thing_description_endpoint
from .properties import all_properties, property_endpoint, reset_property
from .streams import property_events, property_values, thing_events
from .wire import first_segment

__all__ = ("thing_routes",)


async def _no_such_affordance(scope: Scope, receive: Receive, send: Send, *, thing: Thing) -> None:
    """What nothing under ``/{thing}/`` serves: an unknown name, or a path below an affordance."""
    name = first_segment(scope)
    cls = type(thing)
    if name in cls.properties or name in cls.actions:
        raise HTTPException(404)
    raise AffordanceNotFoundError(
        f"Thing {thing.name!r} has no property or action {name!r}; it has "
        f"properties {sorted(cls.properties)} and actions {sorted(cls.actions)}"
    )


def thing_routes(thing: Thing) -> list[BaseRoute]:
    """The routes of ``thing``: its Mount, and its TD's URL without the trailing slash."""
    cls = type(thing)
    # Starlette tries the routes in turn: the affordances themselves first,
    # as they are what requests ask for most.
    routes: list[BaseRoute] = [
        Route(
            f"/{name}",
            partial(property_endpoint, thing=thing, descriptor=prop),
            methods=["GET"] if prop.readonly else ["GET", "PUT"],
        )
        for name, prop in cls.properties.items()
    ]
    routes += [
        Route(
            f"/{name}",
            partial(action_endpoint, thing=thing, descriptor=action),
            methods=["GET", "POST"],
        )
        for name, action in cls.actions.items()
    ]
    for name, prop in cls.properties.items():
        routes += [
            Route(f"/{name}/events", partial(property_events, thing=thing, descriptor=prop)),
            Route(f"/{name}/values", partial(property_values, thing=thing, descriptor=prop)),
        ]
        if prop.is_resettable():  # LabThings-FastAPI's reset-to-default.
            reset = partial(reset_property, thing=thing, descriptor=prop)
            routes.append(Route(f"/{name}/reset", reset, methods=["POST"]))
    routes += camera_routes(thing)
    routes += custom_routes(thing)
    description = partial(thing_description_endpoint, thing=thing)
    routes += [
        Route("/", description),
        Route("/events", partial(thing_events, thing=thing)),
        Route("/properties", partial(all_properties, thing=thing)),
    ]
    under = Router(routes, default=partial(_no_such_affordance, thing=thing))
    return [Mount(f"/{thing.name}", app=under), Route(f"/{thing.name}", description)]
