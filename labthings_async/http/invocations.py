"""Routes for invocations: list, read, output and cancel, under ``/action_invocations``.

Layer: HTTP (starlette, the manager). Lists are newest first and paged: the
body stays a bare JSON array (as LabThings clients expect) and the next page is
announced in an RFC 8288 ``Link: <...>; rel="next"`` header, whose cursor is
the position of the last invocation shown. An invocation ID in a path is a
UUID (Starlette's ``uuid`` convertor), so ``/action_invocations/events`` is
never taken for one.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from ..errors import InvocationNotFinishedError
from ..invocation import Invocation
from ..models import InvocationStatus
from .query import InvocationQuery, decode_query
from .state import server_state
from .streams import all_invocation_events, invocation_events
from .wire import base_url, first_segment, json_response

__all__ = (
    "invocation",
    "invocation_list",
    "invocation_output",
    "invocation_routes",
    "list_invocations",
)


def invocation_list(
    request: Request, *, thing: str | None = None, action: str | None = None
) -> Response:
    """One page of invocation summaries, newest first, filtered by the query.

    Args:
        request: The request, whose query selects and pages.
        thing: Only this Thing's invocations, whatever the query says.
        action: Only this action's invocations, whatever the query says.
    """
    query = decode_query(request, InvocationQuery)
    selected: Iterator[Invocation] = server_state(request).manager.iter_invocations(
        thing=thing or query.thing,
        action=action or query.action,
        status=query.status or None,
    )
    if query.before:
        before = query.before
        selected = itertools.dropwhile(lambda invocation: invocation.sequence >= before, selected)
    limit = query.limit
    page = list(itertools.islice(selected, query.offset, query.offset + limit + 1))
    headers = {}
    if len(page) > limit:
        page = page[:limit]
        params = {key: value for key, value in request.query_params.items() if key != "offset"}
        params["before"] = str(page[-1].sequence)
        params["limit"] = str(limit)
        next_url = request.url.replace_query_params(**params)
        headers["Link"] = f'<{next_url}>; rel="next"'
    base = base_url(request)
    return json_response([invocation.summary_model(base) for invocation in page], headers=headers)


async def list_invocations(request: Request) -> Response:
    """``GET /action_invocations/``: every retained invocation, filtered and paged."""
    return invocation_list(request)


def _find(request: Request) -> Invocation:
    invocation_id: uuid.UUID = request.path_params["id"]
    return server_state(request).manager.get_invocation(invocation_id)


async def invocation(request: Request) -> Response:
    """``GET /action_invocations/{id}``: one invocation, in full; ``DELETE``: cancel it.

    The reply to either is the invocation (a cancelled one may still show
    ``running`` until its action has stopped).
    """
    found = _find(request)
    if request.method == "DELETE":
        found.cancel()
    return json_response(found.response(base_url(request)))


async def invocation_output(request: Request) -> Response:
    """``GET /action_invocations/{id}/output``: the output of a completed invocation."""
    invocation = _find(request)
    if invocation.status is not InvocationStatus.COMPLETED:
        raise InvocationNotFinishedError(
            f"invocation {invocation.id} is {invocation.status.value}; only a completed "
            "invocation has an output"
        )
    return json_response(invocation.output_at(base_url(request)))


async def _no_such_invocation(scope: Scope, receive: Receive, send: Send) -> None:
    """What nothing under ``/action_invocations/`` serves: no such ID, or a path below one."""
    # Raises InvocationNotFoundError, saying why (not a UUID; never existed, or expired).
    server_state(HTTPConnection(scope)).manager.get_invocation(first_segment(scope))
    raise HTTPException(404)  # The invocation exists; nothing is served below it.


def invocation_routes() -> list[BaseRoute]:
    """The ``/action_invocations`` routes."""
    under = Router(
        [
            Route("/", list_invocations),
            Route("/events", all_invocation_events),
            Route("/{id:uuid}", invocation, methods=["GET", "DELETE"]),
            Route("/{id:uuid}/output", invocation_output),
            Route("/{id:uuid}/events", invocation_events),
        ],
        default=_no_such_invocation,
    )
    return [
        Mount("/action_invocations", app=under),
        Route("/action_invocations", list_invocations),
    ]
