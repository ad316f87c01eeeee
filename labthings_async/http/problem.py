"""Problem details (RFC 9457): how every error leaves the server.

Layer: HTTP (starlette). One function turns any exception into an
``application/problem+json`` response, so the status codes and wording of
errors are decided in one place. Unexpected exceptions are logged here and
answered without a traceback unless the app is in debug mode.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidInputError, LabThingsError, QueueFullError
from ..models import FieldIssue, ProblemDetails

__all__ = (
    "PROBLEM_JSON",
    "http_error_handler",
    "problem_for",
    "problem_response",
)

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("labthings_async.server")

_HTTP_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem_response(problem: ProblemDetails, headers: Mapping[str, str] | None = None) -> Response:
    """Encode a problem as an ``application/problem+json`` response."""
    return Response(
        msgspec.json.encode(problem),
        status_code=problem.status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def problem_for(
    request: Request, error: Exception, *, debug: bool = False
) -> tuple[ProblemDetails, dict[str, str]]:
    """The problem details (and extra headers) that describe ``error``."""
    instance = request.url.path
    headers: dict[str, str] = {}
    if isinstance(error, InvalidInputError):
        issues = [FieldIssue(path=issue.path, message=issue.message) for issue in error.issues]
        status = error.status
        problem = ProblemDetails(
            title="Malformed JSON" if error.malformed else error.title,
            status=status,
            detail=error.detail,
            instance=instance,
            errors=issues or None,
        )
    elif isinstance(error, LabThingsError):
        detail = str(error)
        if error.http_status == 500:  # Something failed in the server, not in the request.
            logger.error("error in %s %s", request.method, instance, exc_info=error)
            if debug:
                detail = "".join(traceback.format_exception(error))
        problem = ProblemDetails(
            title=error.title, status=error.http_status, detail=detail, instance=instance
        )
        if isinstance(error, QueueFullError):
            headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, HTTPException):
        detail = error.detail
        if error.status_code == 404 and detail == "Not Found":
            detail = f"nothing is served at {request.method} {instance}"
        elif error.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {instance}"
        problem = ProblemDetails(
            title=_HTTP_TITLES.get(error.status_code, "HTTP error"),
            status=error.status_code,
            detail=detail,
            instance=instance,
        )
        headers.update(error.headers or {})
    else:
        logger.error("unhandled error in %s %s", request.method, instance, exc_info=error)
        detail = "the server failed unexpectedly; the error is in the server log"
        if debug:
            detail = "".join(traceback.format_exception(error))
        problem = ProblemDetails(
            title="Internal server error", status=500, detail=detail, instance=instance
        )
    return problem, headers


async def http_error_handler(request: Request, error: Exception) -> Response:
    """Starlette's handler for its own 404/405s (unknown routes, wrong methods)."""
    problem, headers = problem_for(request, error)
    return problem_response(problem, headers)
