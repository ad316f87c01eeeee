"""Routes for invocations: list, read, output and cancel.

Layer: HTTP (starlette, the manager). Lists are newest first and paged: the
body stays a bare JSON array (as LabThings clients expect) and the next page is
announced in an RFC 8288 ``Link: <...>; rel="next"`` header, whose cursor is
the position of the last invocation shown.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import InvalidInputError, InvocationNotFinishedError
from ..invocation import Invocation
from ..models import FieldIssue, InvocationStatus
from .endpoint import Endpoint, problem_endpoint
from .state import ServerState
from .wire import base_url, json_response

__all__ = ("invocation_list_response", "invocation_routes")

_STATUSES = ", ".join(status.value for status in InvocationStatus)

# ASCII digits only: str.isdigit() also accepts "²", which int() rejects, and
# int() refuses strings of more than a few thousand digits.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,20}")


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise InvalidInputError(
            f"query parameter {name!r} must be a whole number from {low} to {high}, "
            f"got {raw[:40]!r}",
            [FieldIssue(f"$.query.{name}", f"Expected an integer in [{low}, {high}]")],
        )
    return int(raw)


def invocation_list_response(
    request: Request, state: ServerState, *, thing: str | None, action: str | None
) -> Response:
    """One page of invocation summaries, newest first, filtered by the query."""
    query = request.query_params
    status = query.get("status")
    if status is not None and status not in InvocationStatus._value2member_map_:
        raise InvalidInputError(
            f"query parameter 'status' must be one of {_STATUSES}, got {status!r}",
            [FieldIssue("$.query.status", f"Expected one of {_STATUSES}")],
        )
    limit = _query_int(request, "limit", state.page_size, 1, state.max_page_size)
    before = _query_int(request, "before", 0, 0, 2**62)
    offset = _query_int(request, "offset", 0, 0, 2**62)
    selected: Iterator[Invocation] = state.manager.iter_invocations(
        thing=thing or query.get("thing"), action=action or query.get("action"), status=status
    )
    if before:
        selected = itertools.dropwhile(lambda invocation: invocation.sequence >= before, selected)
    page = list(itertools.islice(selected, offset, offset + limit + 1))
    headers = {}
    if len(page) > limit:
        page = page[:limit]
        params = {key: value for key, value in query.items() if key != "offset"}
        params["before"] = str(page[-1].sequence)
        params["limit"] = str(limit)
        next_url = request.url.replace_query_params(**params)
        headers["Link"] = f'<{next_url}>; rel="next"'
    base = base_url(request)
    return json_response([invocation.summary_model(base) for invocation in page], headers=headers)


def invocation_routes(state: ServerState) -> list[BaseRoute]:
    """The ``/action_invocations`` routes."""
    manager = state.manager

    async def list_invocations(request: Request) -> Response:
        return invocation_list_response(request, state, thing=None, action=None)

    async def invocation(request: Request) -> Response:
        found = manager.get_invocation(request.path_params["id"])
        if request.method == "DELETE":
            found.cancel()
        return json_response(found.response(base_url(request)))

    async def output(request: Request) -> Response:
        found = manager.get_invocation(request.path_params["id"])
        if found.status is not InvocationStatus.COMPLETED:
            raise InvocationNotFinishedError(
                f"invocation {found.id} is {found.status.value}; only a completed "
                "invocation has an output"
            )
        return json_response(found.output)

    def route(path: str, endpoint: Endpoint, methods: list[str]) -> Route:
        wrapped = problem_endpoint(endpoint, debug=state.debug)
        return Route(path, wrapped, methods=methods)

    return [
        route("/action_invocations", list_invocations, ["GET"]),
        route("/action_invocations/", list_invocations, ["GET"]),
        route("/action_invocations/{id}", invocation, ["GET", "DELETE"]),
        route("/action_invocations/{id}/output", output, ["GET"]),
    ]
