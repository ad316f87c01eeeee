"""The errors a Thing client raises, all under ``ClientError``.

Layer: bottom (stdlib, errors and models). Each error names its condition and
keeps the structured fields a program needs (the server's problem details, the
invocation, the failing argument's JSON path); its message is one line saying
what happened and, where it helps, what to do next. ``ClientError`` is a
``LabThingsError``, so one ``except`` catches the whole framework's family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import LabThingsError, ValidationIssue
from ..models import ProblemDetails

__all__ = (
    "ActionCancelledError",
    "ActionFailedError",
    "ClientError",
    "ClientTimeoutError",
    "InvalidArgumentsError",
    "NotFoundError",
    "PropertyNotWritableError",
    "RequestFailedError",
    "ServerUnavailableError",
    "describe_issue",
)


class ClientError(LabThingsError):
    """Base class of every error a Thing client raises.

    Attributes:
        problem: The server's problem details, when the server sent some.
    """

    def __init__(self, message: str, *, problem: ProblemDetails | None = None) -> None:
        super().__init__(message)
        self.problem = problem


class _InvocationError(ClientError):
    """An invocation that ended without an output."""

    def __init__(
        self,
        message: str,
        invocation: Mapping[str, Any],
        *,
        problem: ProblemDetails | None = None,
    ) -> None:
        super().__init__(message, problem=problem)
        self.invocation = invocation

    @property
    def invocation_id(self) -> str:
        """The invocation's ID."""
        return str(self.invocation.get("id", ""))


class ActionFailedError(_InvocationError):
    """The action ran and raised: its invocation ended with status ``error``.

    ``problem`` holds the server's problem details (``title`` is the exception's
    class name, ``detail`` its message). When the server logged a traceback,
    it is attached as a note, so it shows under the client's own traceback.

    Attributes:
        invocation: The finished invocation, as the server represents it.
        traceback: The server-side traceback, if the server sent one.
    """

    def __init__(
        self,
        message: str,
        invocation: Mapping[str, Any],
        *,
        problem: ProblemDetails | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message, invocation, problem=problem)
        self.traceback = traceback
        if traceback:
            self.add_note(f"Server traceback:\n{traceback.rstrip()}")


class ActionCancelledError(_InvocationError):
    """The invocation was cancelled (by this client or another) before it finished.

    Attributes:
        invocation: The cancelled invocation, as the server represents it.
    """


class InvalidArgumentsError(ClientError, ValueError):
    """Arguments or a property value do not fit the Thing Description's schema.

    Raised before any request when the client's own check fails, and also when
    the server rejects the input (HTTP 400 or 422).

    Attributes:
        issues: Every failing value, each with its JSON path (``$.x``).
        path: The JSON path of the first failing value.
        reason: What was wrong with it, in msgspec's words.
    """

    def __init__(
        self,
        what: str,
        issues: Sequence[ValidationIssue],
        *,
        problem: ProblemDetails | None = None,
    ) -> None:
        self.issues = list(issues)
        first = self.issues[0] if self.issues else ValidationIssue("$", "invalid")
        self.path = first.path
        self.reason = first.message
        described = "; ".join(describe_issue(issue) for issue in self.issues)
        super().__init__(f"invalid input for {what}: {described}", problem=problem)


def describe_issue(issue: ValidationIssue) -> str:
    """An issue as msgspec words it: ``Expected `int`, got `str` - at `$.x```."""
    if issue.path in ("", "$"):
        return issue.message
    return f"{issue.message} - at `{issue.path}`"


class PropertyNotWritableError(ClientError, AttributeError):
    """The Thing Description marks the property read-only; nothing was sent."""


class NotFoundError(ClientError, LookupError):
    """No such Thing, property, action or invocation (the server said 404, or the TD lacks it)."""


class ServerUnavailableError(ClientError, ConnectionError):
    """The server cannot be reached, dropped the connection, or is too busy (503).

    Attributes:
        retry_after: Seconds the server asked the client to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        problem: ProblemDetails | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, problem=problem)
        self.retry_after = retry_after


class ClientTimeoutError(ClientError, TimeoutError):
    """The client gave up waiting: for a reply, or for ``result(timeout=...)``."""


class RequestFailedError(ClientError):
    """The server refused a request for a reason no other error names.

    Attributes:
        status_code: The HTTP status of the reply.
    """

    def __init__(
        self, message: str, status_code: int, *, problem: ProblemDetails | None = None
    ) -> None:
        super().__init__(message, problem=problem)
        self.status_code = status_code
