"""Routes for whole-Thing and whole-server documents: all properties, OpenAPI.

Layer: HTTP (starlette, the manager). ``GET /{thing}/properties`` answers the
TD's thing-level ``readallproperties`` form; ``GET /openapi.json`` describes
every route of this server.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..property_access import read_property
from ..wot.openapi import openapi_document
from .endpoint import Endpoint, problem_endpoint
from .state import ServerState
from .wire import base_url, json_response

__all__ = ("wot_routes",)


def wot_routes(state: ServerState) -> list[BaseRoute]:
    """The routes of the OpenAPI document and of ``readallproperties``."""
    manager = state.manager

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document(manager.things, server_url=base_url(request)))

    async def all_properties(request: Request) -> Response:
        thing = manager.get_thing(request.path_params["thing"])
        values: dict[str, Any] = {}
        for name, descriptor in type(thing).properties.items():
            values[name] = await read_property(descriptor, thing, state.property_limiter)
        return json_response(values)

    def route(path: str, endpoint: Endpoint) -> Route:
        return Route(path, problem_endpoint(endpoint, debug=state.debug), methods=["GET"])

    return [
        route("/openapi.json", openapi),
        route("/{thing}/properties", all_properties),
    ]
