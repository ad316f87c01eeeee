"""The errors only a Thing client meets, all under ``ClientError``.

Layer: client (stdlib, errors and models). A failed or cancelled action, a
server out of reach, a reply that took too long: conditions no server raises.
Where client and server meet the same condition (no such Thing, affordance
or invocation; input that does not fit; a read-only property) the client
raises the class from ``labthings_async.errors`` with the server's problem
details attached, so there is one class per condition. Each message is one
line saying what happened and, where it helps, what to do next.
``ClientError`` is a ``LabThingsError``, so one ``except LabThingsError``
catches the whole framework's family. ``ActionCancelledError`` is not a
client's alone (``Invocation.result()`` in the server's process raises it
too), so it lives in ``labthings_async.errors``; it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ActionCancelledError, InvalidInputError, LabThingsError
from ..models import FieldIssue, ProblemDetails

__all__ = (
    "ActionCancelledError",
    "ActionFailedError",
    "ClientError",
    "ClientTimeoutError",
    "RequestFailedError",
    "ServerUnavailableError",
    "describe_issue",
    "invalid_arguments",
)


class ClientError(LabThingsError):
    """Base class of the errors only a Thing client raises.

    Attributes:
        problem: The server's problem details, when the server sent some.
    """


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


def invalid_arguments(
    what: str, issues: Sequence[FieldIssue], *, problem: ProblemDetails | None = None
) -> InvalidInputError:
    """The error for arguments or a property value that do not fit, naming every issue.

    Args:
        what: What the input was for: ``action 'move_to'``.
        issues: Every failing value, each with its JSON path (at least one).
        problem: The server's problem details, when the server refused the input.
    """
    described = "; ".join(describe_issue(issue) for issue in issues)
    return InvalidInputError(
        f"invalid input for {what}: {described}",
        issues,
        malformed=problem is not None and problem.status == 400,
        problem=problem,
    )


def describe_issue(issue: FieldIssue) -> str:
    """An issue as msgspec words it: ``Expected `int`, got `str` - at `$.x```."""
    if issue.path in ("", "$"):
        return issue.message
    return f"{issue.message} - at `{issue.path}`"


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
