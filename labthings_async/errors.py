"""Every exception labthings_async raises, under one base class.

Layer: bottom (stdlib only). Each error names its condition and carries the
structured fields the HTTP layer turns into problem details, so the message a
user reads is built in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = (
    "ActionDefinitionError",
    "AffordanceNotFoundError",
    "IllegalTransitionError",
    "InvalidInputError",
    "InvocationCancelledError",
    "InvocationFinishedError",
    "InvocationNotFinishedError",
    "InvocationNotFoundError",
    "LabThingsError",
    "ManagerNotRunningError",
    "QueueFullError",
    "ReadOnlyPropertyError",
    "ThingNotFoundError",
    "ThingSetupError",
    "ValidationIssue",
)


class LabThingsError(Exception):
    """Base class of every error raised by labthings_async.

    Attributes:
        http_status: The HTTP status the server answers with for this error.
        title: A short, stable summary of the kind of problem.
    """

    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"


class ActionDefinitionError(LabThingsError, TypeError):
    """A Thing declares an action or property that cannot be served.

    Raised at class definition time, naming the method and the parameter.
    """

    title = "Invalid Thing definition"


class ValidationIssue:
    """One failing field of an input: where it is and what was wrong.

    Attributes:
        path: JSON path of the failing value, in msgspec's ``$.a.b[0]`` style.
        message: What was wrong, as msgspec words it.
    """

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"ValidationIssue(path={self.path!r}, message={self.message!r})"


class InvalidInputError(LabThingsError, ValueError):
    """An action's input or a property's value failed validation.

    Attributes:
        issues: The failing fields, each with its JSON path.
        malformed: True when the body was not JSON at all (HTTP 400), False when
            it was JSON that broke the schema (HTTP 422).
    """

    title = "Invalid input"
    http_status = 422

    def __init__(
        self, detail: str, issues: Sequence[ValidationIssue] = (), *, malformed: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues = list(issues)
        self.malformed = malformed

    @property
    def status(self) -> int:
        """The HTTP status for this particular failure (400 or 422)."""
        return 400 if self.malformed else 422


class ThingNotFoundError(LabThingsError, LookupError):
    """No Thing of that name is managed here."""

    title = "Thing not found"
    http_status = 404


class AffordanceNotFoundError(LabThingsError, LookupError):
    """The Thing has no action or property of that name."""

    title = "Affordance not found"
    http_status = 404


class InvocationNotFoundError(LabThingsError, LookupError):
    """No invocation with that ID is retained (never existed, or expired)."""

    title = "Invocation not found"
    http_status = 404


class InvocationFinishedError(LabThingsError):
    """The invocation has already finished, so it cannot be cancelled."""

    title = "Invocation already finished"
    http_status = 409


class InvocationNotFinishedError(LabThingsError):
    """The invocation has no output yet (or ended without one)."""

    title = "Invocation has no output"
    http_status = 409


class IllegalTransitionError(LabThingsError, RuntimeError):
    """A status change that the invocation state machine forbids."""

    title = "Illegal status transition"


class InvocationCancelledError(LabThingsError):
    """The invocation was cancelled.

    Raised inside an action by the cancellation helpers (let it escape to end
    the invocation as ``cancelled``), and by ``Invocation.result()``.
    """

    title = "Invocation cancelled"
    http_status = 409


class QueueFullError(LabThingsError):
    """Too many invocations are waiting for a worker thread.

    Attributes:
        retry_after: Seconds after which a retry is sensible.
    """

    title = "Invocation queue full"
    http_status = 503

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ReadOnlyPropertyError(LabThingsError, AttributeError):
    """A client tried to write a read-only property."""

    title = "Property is read-only"
    http_status = 405


class ManagerNotRunningError(LabThingsError, RuntimeError):
    """The ActionManager is not running (not started yet, or shutting down)."""

    title = "Server not running"
    http_status = 503


class ThingSetupError(LabThingsError, RuntimeError):
    """A Thing's setup raised, so the server cannot start."""

    title = "Thing setup failed"
