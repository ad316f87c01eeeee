"""Turning any exception an endpoint raises into a problem+json response.

Layer: HTTP (starlette). Endpoints raise the domain's errors freely; this one
wrapper answers each with the right status, so no exception reaches Starlette's
error middleware (which would re-raise it after replying).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from .problem import problem_for, problem_response

__all__ = ("Endpoint", "problem_endpoint")

Endpoint = Callable[[Request], Awaitable[Response]]


def problem_endpoint(endpoint: Endpoint, *, debug: bool = False) -> Endpoint:
    """Wrap ``endpoint`` so every exception becomes problem details."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as error:
            problem, headers = problem_for(request, error, debug=debug)
            return problem_response(problem, headers)

    return wrapped
