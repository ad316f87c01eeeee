"""Custom endpoints of a Thing (``@lt.endpoint``): the method, called with the request's values.

Layer: HTTP (starlette, anyio, the declarations). Each endpoint gets a route
under its Thing's ``Mount``, answering the one method it names. Its path and
query parameters are decoded from text (``"10"`` is an ``int``), its body as
JSON, all validated by the types the method declares; what does not fit is
a 422 naming the parameter. A ``def`` runs in a worker thread, among the
server's property threads, as property getters do; a Starlette ``Response``
it returns is sent as it is. A ``BaseException`` it raises that is not an
``Exception`` (``SystemExit``, say) is a 500 like any other failure: it must
not reach the server.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..codec import Codec
from ..endpoints import EndpointDescriptor
from ..errors import InvalidInputError
from ..models import FieldIssue
from ..thing import Thing
from ..workers import cancelled_from_outside
from .query import decode_path, decode_query
from .state import server_state
from .wire import json_response, read_json_body

__all__ = ("custom_endpoint", "custom_routes")


def custom_routes(thing: Thing) -> list[BaseRoute]:
    """A route for each of ``thing``'s custom endpoints, relative to the Thing's URL."""
    return [
        Route(
            f"/{descriptor.path}",
            functools.partial(custom_endpoint, thing=thing, descriptor=descriptor),
            methods=[descriptor.method],
        )
        for descriptor in type(thing).endpoints.values()
    ]


async def custom_endpoint(
    request: Request, *, thing: Thing, descriptor: EndpointDescriptor
) -> Response:
    """Call the endpoint's method with the request's values; reply with what it returns."""
    arguments: dict[str, Any] = {}
    what = f"the request to endpoint {descriptor.name!r}"
    if descriptor.path_model is not None:
        arguments.update(_fields(_decode(request, descriptor.path_model, "path", what)))
    if descriptor.query_model is not None:
        arguments.update(_fields(_decode(request, descriptor.query_model, "query", what)))
    if descriptor.body is not None:
        parameter, codec = descriptor.body
        state = server_state(request)
        raw = await read_json_body(request, state.body_limit, state.body_timeout)
        if raw.strip():
            arguments[parameter.name] = codec.decode_json(raw, f"the body of {what}")
        elif parameter.required:
            raise InvalidInputError(
                f"the body of {what} is missing: it is the value of {parameter.name!r}",
                [FieldIssue("$", "Request body is required")],
            )
        else:
            arguments[parameter.name] = parameter.default
    for parameter in descriptor.parameters:
        if parameter.source == "request":
            arguments[parameter.name] = request
    try:
        if descriptor.is_async:
            result = await descriptor.function(thing, **arguments)
        else:
            properties = server_state(request).properties
            async with properties.limiter:
                call = functools.partial(descriptor.function, thing, **arguments)
                result = await properties.threads.run(call)
    except Exception:
        raise
    except BaseException as error:
        if cancelled_from_outside(error):
            raise
        raise RuntimeError(
            f"endpoint {descriptor.name!r} raised {type(error).__name__}: {error}"
        ) from error
    if isinstance(result, Response):
        return result
    if descriptor.response_class is not None:
        response: Response = descriptor.response_class(
            content=result, status_code=descriptor.status_code
        )
        return response
    return json_response(result, descriptor.status_code)


def _decode(request: Request, codec: Codec, source: str, what: str) -> Any:
    """The path or query parameters, validated together by their struct or model."""
    model = codec.type
    if isinstance(model, type) and issubclass(model, msgspec.Struct):
        return decode_path(request, model) if source == "path" else decode_query(request, model)
    values = request.path_params if source == "path" else request.query_params
    return codec.convert(dict(values), f"the {source} of {what}")


def _fields(model: Any) -> dict[str, Any]:
    names = getattr(model, "__struct_fields__", None) or type(model).model_fields
    return {name: getattr(model, name) for name in names}
