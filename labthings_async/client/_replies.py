"""What the server's replies mean: its errors as the client's typed errors.

Layer: client (stdlib, msgspec, httpx2's data types, errors, models and
client errors). One place maps HTTP statuses and problem details, in our
server's RFC 9457 shape or FastAPI's (LabThings-FastAPI 0.3.0), and failed
connections, to the ``LabThingsError`` family (a 404 is a ``NotFoundError``,
a refused input an ``InvalidInputError``, as on the server), with messages
that say what the request was about.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import httpx2
import msgspec

from ..errors import (
    AuthenticationError,
    LabThingsError,
    LockBusyError,
    NotFoundError,
    PermissionDeniedError,
)
from ..models import FieldIssue, ProblemDetails
from .errors import (
    ClientError,
    ClientTimeoutError,
    RequestFailedError,
    ServerUnavailableError,
    invalid_arguments,
)

__all__ = ("checked", "error_for", "problem_of", "transport_error")


def transport_error(error: Exception, url: str) -> ClientError:
    """The client error for a request that got no reply."""
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx2.TimeoutException):
        if isinstance(error, httpx2.ConnectTimeout | httpx2.PoolTimeout):
            return ServerUnavailableError(f"cannot reach {url}: timed out connecting")
        return ClientTimeoutError(f"no reply from {url} in time: {reason}")
    if isinstance(error, httpx2.ConnectError | httpx2.UnsupportedProtocol):
        return ServerUnavailableError(f"cannot reach {url}: {reason}")
    return ServerUnavailableError(f"lost the connection to {url}: {reason}")


def problem_of(response: httpx2.Response) -> ProblemDetails:
    """The problem details of an error reply, in whichever shape the server sent them.

    Our server sends RFC 9457 ``application/problem+json``; LabThings-FastAPI
    sends FastAPI's ``{"detail": "..."}`` or, for validation, ``{"detail":
    [{"loc": [...], "msg": ...}]}``; anything else becomes its text.
    """
    status, title = response.status_code, response.reason_phrase or "Error"
    try:
        body: Any = response.json()
    except ValueError:
        return ProblemDetails(title=title, status=status, detail=response.text.strip()[:500])
    if isinstance(body, Mapping) and "title" in body and "status" in body:
        try:
            return msgspec.convert(body, ProblemDetails, strict=False)
        except msgspec.ValidationError:
            pass
    detail = body.get("detail") if isinstance(body, Mapping) else body
    if isinstance(detail, list):
        issues = [_fastapi_issue(item) for item in detail if isinstance(item, Mapping)]
        text = "; ".join(f"{issue.message} - at `{issue.path}`" for issue in issues)
        return ProblemDetails(title=title, status=status, detail=text, errors=issues)
    return ProblemDetails(title=title, status=status, detail=str(detail or ""))


def _fastapi_issue(item: Mapping[str, Any]) -> FieldIssue:
    location = [str(part) for part in item.get("loc", []) if part != "body"]
    path = "$" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in location)
    return FieldIssue(path=path, message=str(item.get("msg", "invalid")))


def error_for(
    response: httpx2.Response, what: str, *, missing: type[NotFoundError] = NotFoundError
) -> LabThingsError:
    """The error for an error reply to a request about ``what``.

    Args:
        response: A reply with status 400 or above.
        what: What the request was about, for the message: ``action 'x'``.
        missing: The ``NotFoundError`` to raise for a 404: what the request
            names (a Thing, an affordance, an invocation) and found missing.
    """
    problem = problem_of(response)
    status = response.status_code
    detail = problem.detail or problem.title
    if status in (400, 422):
        return invalid_arguments(what, problem.errors or [FieldIssue("$", detail)], problem=problem)
    if status == 404:
        return missing(f"{what}: {detail}", problem=problem)
    if status == 401:
        return AuthenticationError(
            f"{what}: {detail} (give the client a token: token=..., or the command line's "
            "--token or LABTHINGS_TOKEN)",
            problem=problem,
        )
    if status == 403:
        return PermissionDeniedError(f"{what}: {detail}", problem=problem)
    if status == 409 and problem.title == LockBusyError.title:
        return LockBusyError(f"{what}: {detail}", problem=problem)
    if status == 503:
        return ServerUnavailableError(
            f"{what}: the server is busy: {detail}",
            problem=problem,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    return RequestFailedError(
        f"{what}: HTTP {status} {problem.title}: {detail}", status, problem=problem
    )


def checked(
    response: httpx2.Response, what: str, *, missing: type[NotFoundError] = NotFoundError
) -> httpx2.Response:
    """``response``, if it is not an error reply.

    Raises:
        LabThingsError: The error ``error_for`` gives, for a status of 400 or above
            (``missing`` for a 404).
    """
    if response.status_code >= 400:
        raise error_for(response, what, missing=missing)
    return response


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isascii() and value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
