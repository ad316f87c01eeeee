"""Document endpoints: the index of Things, Thing Descriptions, the OpenAPI document.

Layer: HTTP (starlette, the manager, ``wot``). Every URL in them is absolute
and includes each mount point on the way to the API (a host app's, the
server's prefix), so a consumer can follow them as given.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..thing import Thing
from ..wot.openapi import openapi_document
from ..wot.td import thing_description
from .auth import ACCESS_TOKEN, request_role
from .page import thing_panel, wants_html
from .state import server_state
from .wire import base_url, json_response

__all__ = (
    "document_routes",
    "openapi",
    "thing_description_endpoint",
    "thing_descriptions",
    "thing_index",
)


def _thing_url(request: Request, name: str) -> str:
    return f"{base_url(request)}/{name}/"


def _description(request: Request, thing: Thing) -> dict[str, Any]:
    """The TD of ``thing`` as this request gets it.

    With tokens, it declares the bearer scheme; a client that showed a valid
    token also gets a read-only stream token in its event-stream hrefs.
    """
    state = server_state(request)
    stream_query = ""
    if state.tokens is not None and request_role(request.scope) is not None:
        token, _ = state.stream_tokens.issue()
        stream_query = f"{ACCESS_TOKEN}={token}"
    return thing_description(
        thing,
        _thing_url(request, thing.name),
        bearer=state.tokens is not None,
        stream_query=stream_query,
    )


async def thing_index(request: Request) -> Response:
    """``GET /things/``: each Thing's name and the URL of its Thing Description."""
    names = server_state(request).manager.things
    return json_response({name: _thing_url(request, name) for name in names})


async def thing_descriptions(request: Request) -> Response:
    """``GET /thing_descriptions/``: every Thing Description, by Thing name."""
    things = server_state(request).manager.things
    return json_response({name: _description(request, thing) for name, thing in things.items()})


async def thing_description_endpoint(request: Request, *, thing: Thing) -> Response:
    """``GET /{thing}/``: the Thing Description (W3C TD 1.1); to a browser, the Thing's panel.

    With the panel served, only a request that prefers ``text/html`` (see
    ``wants_html``) gets the page; ``*/*`` and JSON still get the TD.
    """
    headers = None
    if server_state(request).panel:
        if wants_html(request):
            return thing_panel(request, thing)
        headers = {"Vary": "Accept"}
    return json_response(_description(request, thing), headers=headers)


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``: the OpenAPI 3.1 document of every route of this server."""
    state = server_state(request)
    document = openapi_document(
        state.manager.things, server_url=base_url(request), bearer=state.tokens is not None
    )
    return json_response(document)


def document_routes() -> list[BaseRoute]:
    """The routes of the server-wide documents (a Thing's own TD is among its routes)."""
    return [
        Mount("/things", routes=[Route("/", thing_index)]),
        Route("/things", thing_index),
        Mount("/thing_descriptions", routes=[Route("/", thing_descriptions)]),
        Route("/thing_descriptions", thing_descriptions),
        Route("/openapi.json", openapi),
    ]
