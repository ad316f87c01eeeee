"""Problem details (RFC 9457): how every error leaves the server.

Layer: HTTP (starlette, the errors and models). ``EXCEPTION_HANDLERS`` is the
one table the app hands Starlette: the framework's own errors, Starlette's
routing errors (404, 405) and anything unexpected each become an
``application/problem+json`` response here, so the status codes and wording
of errors are decided in one place. Endpoints raise freely. A server fault
(status 500) is logged here, once, with the request it failed, and answered
without a traceback unless the server is in debug mode.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    BodyTimeoutError,
    CapacityError,
    InvalidInputError,
    LabThingsError,
    RangeNotSatisfiableError,
    ReadOnlyPropertyError,
)
from ..models import ProblemDetails
from .state import server_state

__all__ = (
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "answered_fault",
    "http_error",
    "labthings_error",
    "problem_response",
    "unexpected_error",
)

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("labthings_async.server")

_ANSWERED_FAULT = "labthings_async.answered_fault"
"""Scope key: the unexpected exception ``unexpected_error`` has logged and answered."""


def problem_response(problem: ProblemDetails, headers: Mapping[str, str] | None = None) -> Response:
    """Encode a problem as an ``application/problem+json`` response."""
    return Response(
        msgspec.json.encode(problem),
        status_code=problem.status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def _server_fault(request: Request, error: BaseException, detail: str) -> str:
    """Log a failure of the server itself; the detail to send (the traceback in debug mode)."""
    logger.error("error in %s %s", request.method, request.url.path, exc_info=error)
    if server_state(request).debug:
        return "".join(traceback.format_exception(error))
    return detail


async def labthings_error(request: Request, error: Exception) -> Response:
    """Answer one of the framework's errors with the status and title its class names."""
    if not isinstance(error, LabThingsError):  # Starlette picks this handler by class.
        return await unexpected_error(request, error)
    headers: dict[str, str] = {}
    instance = request.url.path
    if isinstance(error, InvalidInputError):
        problem = ProblemDetails(
            title="Malformed JSON" if error.malformed else error.title,
            status=error.status,
            detail=error.detail,
            instance=instance,
            errors=error.issues or None,
        )
        return problem_response(problem)
    detail = str(error)
    if error.http_status == 500:  # Something failed in the server, not in the request.
        detail = _server_fault(request, error, detail)
    if isinstance(error, CapacityError):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, BodyTimeoutError):
        # The rest of the body may still come: the connection cannot carry
        # another request, so hypercorn closes it after this reply.
        headers["Connection"] = "close"
    elif isinstance(error, ReadOnlyPropertyError):
        headers["Allow"] = "GET, HEAD"  # A 405 names what is allowed; a property reads.
    elif isinstance(error, RangeNotSatisfiableError):
        headers["Content-Range"] = f"bytes */{error.size}"  # RFC 9110: a 416 says the size.
    problem = ProblemDetails(
        title=error.title, status=error.http_status, detail=detail, instance=instance
    )
    return problem_response(problem, headers)


async def http_error(request: Request, error: Exception) -> Response:
    """Answer Starlette's own errors: a path nothing serves (404), a wrong method (405)."""
    if not isinstance(error, HTTPException):  # Starlette picks this handler by class.
        return await unexpected_error(request, error)
    status = error.status_code
    headers = dict(error.headers or {})
    where = f"{request.method} {request.url.path}"
    detail = error.detail
    if detail == HTTPStatus(status).phrase:  # Starlette's default: say more.
        if status == 404:
            detail = f"nothing is served at {where}"
        elif status == 405:
            # Starlette lists the methods from a set, in no fixed order.
            allowed = sorted(method.strip() for method in headers.get("Allow", "").split(","))
            headers["Allow"] = ", ".join(allowed)
            detail = f"{where} is not allowed; use {', '.join(allowed)}"
    problem = ProblemDetails(
        title=HTTPStatus(status).phrase, status=status, detail=detail, instance=request.url.path
    )
    return problem_response(problem, headers)


async def unexpected_error(request: Request, error: Exception) -> Response:
    """Answer an exception nothing expected: 500, logged, no traceback unless debugging.

    Starlette runs the handler for ``Exception`` in its outermost middleware,
    which then re-raises the exception for the server to log. The app stops
    that (see ``answered_fault``), since it is logged here already, with the
    request it failed.
    """
    detail = _server_fault(
        request, error, "the server failed unexpectedly; the error is in the server log"
    )
    request.scope[_ANSWERED_FAULT] = error
    problem = ProblemDetails(
        title=HTTPStatus(500).phrase, status=500, detail=detail, instance=request.url.path
    )
    return problem_response(problem)


def answered_fault(scope: Mapping[str, Any], error: BaseException) -> bool:
    """True if ``error`` is one ``unexpected_error`` has logged and answered."""
    return scope.get(_ANSWERED_FAULT) is error


EXCEPTION_HANDLERS: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    LabThingsError: labthings_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
"""How each kind of exception becomes a response: the app's ``exception_handlers``."""
