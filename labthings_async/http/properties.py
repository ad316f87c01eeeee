"""Property endpoints: read and write one property, read them all.

Layer: HTTP (starlette, the declarations, property access). A read-only
property's route takes no ``PUT``, so Starlette answers one with 405 and
``Allow: GET, HEAD``; a written value is validated against the property's
type before its setter sees it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..properties import PropertyDescriptor
from ..thing import Thing
from .state import server_state
from .wire import json_response, read_json_body

__all__ = ("all_properties", "property_endpoint", "reset_property")


async def property_endpoint(
    request: Request, *, thing: Thing, descriptor: PropertyDescriptor
) -> Response:
    """``GET /{thing}/{property}``: the value; ``PUT``: set it (204)."""
    state = server_state(request)
    if request.method == "PUT":
        body = await read_json_body(request, state.body_limit, state.body_timeout)
        value = descriptor.decode(body)
        await state.properties.write(descriptor, thing, value)
        return Response(status_code=204)
    return json_response(await state.properties.read(descriptor, thing))


async def all_properties(request: Request, *, thing: Thing) -> Response:
    """``GET /{thing}/properties``: every property's value (the TD's ``readallproperties``)."""
    properties = server_state(request).properties
    values: dict[str, Any] = {}
    for name, descriptor in type(thing).properties.items():
        values[name] = await properties.read(descriptor, thing)
    return json_response(values)


async def reset_property(
    request: Request, *, thing: Thing, descriptor: PropertyDescriptor
) -> Response:
    """``POST /{thing}/{property}/reset``: back to its default (LabThings-FastAPI's route)."""
    await server_state(request).properties.reset(descriptor, thing)
    return Response(status_code=204)
